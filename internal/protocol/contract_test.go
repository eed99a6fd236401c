package protocol_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/coworkctl/coworkctl/internal/protocol"
)

// tableRows returns the cells of the markdown table that follows heading
// in doc, header and separator rows left out.
func tableRows(t *testing.T, doc, heading string) [][]string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("docs/contract.md has no %q section", heading)
	}
	var rows [][]string
	inTable := false
	for line := range strings.Lines(doc[i+len(heading)+2:]) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			if strings.HasPrefix(line, "#") {
				break
			}
			continue
		}
		inTable = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		rows = append(rows, cells)
	}
	if len(rows) < 2 {
		t.Fatalf("section %q has no table", heading)
	}
	return rows[1:]
}

func unquote(cell string) string { return strings.Trim(cell, "`") }

// TestContractDoc keeps docs/contract.md and the code in step: every event
// the server sends or handles is in the events table with its direction,
// nothing else is, and the refusals table lists exactly the refusals with
// a fixed text, code and text alike.
func TestContractDoc(t *testing.T) {
	raw, err := os.ReadFile("../../docs/contract.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)

	var docServer, docClient []string
	for _, row := range tableRows(t, doc, "### Events") {
		switch row[1] {
		case "server → client":
			docServer = append(docServer, unquote(row[0]))
		case "client → server":
			docClient = append(docClient, unquote(row[0]))
		default:
			t.Errorf("event %s: direction %q is neither server → client nor client → server", row[0], row[1])
		}
	}
	for _, c := range []struct {
		dir       string
		doc, code []string
	}{{"server → client", docServer, protocol.ServerEvents()}, {"client → server", docClient, protocol.ClientEvents()}} {
		doc, code := slices.Sorted(slices.Values(c.doc)), slices.Sorted(slices.Values(c.code))
		if !slices.Equal(doc, code) {
			t.Errorf("%s events: docs/contract.md lists %v, internal/protocol has %v", c.dir, doc, code)
		}
	}

	type pair struct{ code, text string }
	var docRefusals, codeRefusals []pair
	for _, row := range tableRows(t, doc, "## Refusals") {
		docRefusals = append(docRefusals, pair{unquote(row[0]), row[1]})
	}
	for _, r := range protocol.Refusals() {
		codeRefusals = append(codeRefusals, pair{r.Code, r.Text})
	}
	byCodeText := func(a, b pair) int { return strings.Compare(a.code+"\x00"+a.text, b.code+"\x00"+b.text) }
	slices.SortFunc(docRefusals, byCodeText)
	slices.SortFunc(codeRefusals, byCodeText)
	for _, r := range codeRefusals {
		if _, found := slices.BinarySearchFunc(docRefusals, r, byCodeText); !found {
			t.Errorf("refusal %s %q is missing from docs/contract.md", r.code, r.text)
		}
	}
	for _, r := range docRefusals {
		if _, found := slices.BinarySearchFunc(codeRefusals, r, byCodeText); !found {
			t.Errorf("docs/contract.md lists refusal %s %q, which internal/protocol does not have", r.code, r.text)
		}
	}
}
