package realtime

import (
	"testing"

	"github.com/zishang520/socket.io/v3/pkg/types"
)

func TestFrameCacheSharesOnePreparedMessagePerFrame(t *testing.T) {
	c := newFrameCache(2)
	a, b, d := types.NewStringBufferString("42[\"a\"]"), types.NewStringBufferString("42[\"b\"]"), types.NewStringBufferString("42[\"d\"]")
	pa1, err := c.get(a)
	if err != nil {
		t.Fatal(err)
	}
	pa2, _ := c.get(a)
	if pa1 != pa2 {
		t.Fatal("the same frame was prepared twice")
	}
	// Frames with equal bytes are still distinct broadcasts.
	same := types.NewStringBufferString("42[\"a\"]")
	if ps, _ := c.get(same); ps == pa1 {
		t.Fatal("a different frame buffer hit another frame's entry")
	}
	c.get(b)
	c.get(d) // evicts the oldest entries beyond size 2
	if len(c.items) != 2 {
		t.Fatalf("cache holds %d frames, want 2", len(c.items))
	}
	if _, ok := c.items[a]; ok {
		t.Fatal("oldest frame was not evicted")
	}
	if pa3, _ := c.get(a); pa3 == pa1 {
		t.Fatal("an evicted frame returned its old PreparedMessage")
	}
}
