package vuser

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/loadtest/scenario"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// vu is one virtual user: one connection running one scenario's flow.
type vu struct {
	r     *runner
	index int
	rng   *rand.Rand
	rend  *scenario.Renderer
	conn  Conn
	tr    string
	// dial is how conn was opened; other namespaces open with it.
	dial DialOptions
	// nsConns are connections to namespaces other than "/", opened by
	// the first emit that names one, as Artillery does.
	nsConns map[string]Conn
	rest    *client.REST

	// mu guards the event buffer and waiters; the ledger's lock guards
	// owed and seen.
	mu      sync.Mutex
	events  []event // recent events, when the flow waits for any
	waiters []*waiter
	owed    []owed
	seen    []updateKey

	// The space and date of the last join, for leave and slot steps.
	spazio, sede int64
	date         string
	room         string
	// holding lists slots this user holds, so release and book of a slot
	// it lost to another user are skipped rather than sent.
	holding map[slotRef]bool
	// lastHeld is the slot of the last successful hold, which book and
	// release without a slot act on.
	lastHeld     slotRef
	lastHeldSede int64
	// lastStart is when the previous step began: wait_for looks back to
	// it, so an event the previous step caused is not missed.
	lastStart time.Time
}

type slotRef struct {
	spazio int64
	date   string
	slot   int
}

type event struct {
	name string
	args []json.RawMessage
	at   time.Time
}

type waiter struct {
	name string
	ch   chan event
}

// maxEvents bounds the per-user event buffer that wait_for and response
// look back into.
const maxEvents = 32

// onEvent runs on the connection's reader. A slot_update is decoded in
// one pass straight from the payload, and other events not at all unless
// the flow waits for events: every user of a busy room reads every update,
// and splitting each into its arguments first cost as much again.
func (v *vu) onEvent(ev Event) {
	at := ev.At
	if head, known := eventName(ev.Payload); !known || string(head) == protocol.EventSlotUpdate {
		var name string
		var u protocol.SlotUpdate
		tuple := [2]any{&name, &u}
		if json.Unmarshal(ev.Payload, &tuple) == nil && name == protocol.EventSlotUpdate {
			if v.r.ledger.deliver(v, updateKey{spazio: u.Data.IDSpazio, date: u.Data.Date, slot: u.SlotID, status: u.Status}, at) {
				v.r.series.add(at, func(s *second) { s.Updates++ })
			}
		}
	}
	if !v.r.buffered {
		return
	}
	name, args, err := ev.Parse(ev.Payload)
	if err != nil {
		return
	}
	e := event{name: name, args: copyArgs(args), at: at}
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, w := range v.waiters {
		if w.name == name {
			w.ch <- e
			v.waiters = append(v.waiters[:i], v.waiters[i+1:]...)
			return
		}
	}
	v.events = append(v.events, e)
	if len(v.events) > maxEvents {
		v.events = v.events[len(v.events)-maxEvents:]
	}
}

// eventName reads the name of an event payload (["name", …]) without
// decoding the rest; known is false when that takes a JSON decoder (a
// name with escapes, an unexpected shape).
func eventName(p []byte) (name []byte, known bool) {
	p = bytes.TrimLeft(p, " \t\r\n")
	if len(p) == 0 || p[0] != '[' {
		return nil, false
	}
	p = bytes.TrimLeft(p[1:], " \t\r\n")
	if len(p) == 0 || p[0] != '"' {
		return nil, false
	}
	end := bytes.IndexByte(p[1:], '"')
	if end < 0 || bytes.IndexByte(p[1:1+end], '\\') >= 0 {
		return nil, false
	}
	return p[1 : 1+end], true
}

func copyArgs(args []json.RawMessage) []json.RawMessage {
	out := make([]json.RawMessage, len(args))
	for i, a := range args {
		out[i] = append(json.RawMessage(nil), a...)
	}
	return out
}

// await returns the first event named name, read at or after since, that
// accept takes: one already buffered, or one to come within timeout.
func (v *vu) await(ctx context.Context, name string, since time.Time, timeout time.Duration, accept func(event) bool) (event, error) {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		e, w := v.take(name, since)
		if w != nil {
			select {
			case e = <-w.ch:
			case <-tctx.Done():
				v.drop(w)
				if ctx.Err() != nil {
					return event{}, ctx.Err()
				}
				return event{}, errTimeout
			}
		}
		if accept(e) {
			return e, nil
		}
	}
}

// take removes and returns a buffered event, or registers a waiter.
func (v *vu) take(name string, since time.Time) (event, *waiter) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, e := range v.events {
		if e.name == name && !e.at.Before(since) {
			v.events = append(v.events[:i], v.events[i+1:]...)
			return e, nil
		}
	}
	w := &waiter{name: name, ch: make(chan event, 1)}
	v.waiters = append(v.waiters, w)
	return event{}, w
}

func (v *vu) drop(w *waiter) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, x := range v.waiters {
		if x == w {
			v.waiters = append(v.waiters[:i], v.waiters[i+1:]...)
			return
		}
	}
}

var errTimeout = errors.New("timeout")

// stepErr is a failed step with the kind it is counted under.
type stepErr struct {
	kind string
	err  error
}

func (e *stepErr) Error() string { return e.kind + ": " + e.err.Error() }

func fail(kind string, err error) *stepErr { return &stepErr{kind: kind, err: err} }

// run executes flow; it returns the first failed step's error, which ends
// the virtual user as Artillery does.
func (v *vu) run(ctx context.Context, flow []*scenario.Step) error {
	for _, st := range flow {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		switch st.Kind {
		case scenario.KindThink:
			err = v.think(ctx, st.Think.Draw(v.rng))
		case scenario.KindLoop:
			err = v.loop(ctx, st.Loop)
		default:
			err = v.action(ctx, st)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (v *vu) think(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (v *vu) loop(ctx context.Context, l *scenario.Loop) error {
	over := l.Over
	if l.OverVar != "" {
		over = v.r.script.Config.Variables[l.OverVar]
	}
	n := l.Count
	if over != nil {
		n = len(over)
	}
	prevCount, hadCount := v.rend.Vars[scenario.VarLoopCount]
	prevElem, hadElem := v.rend.Vars[scenario.VarLoopElement]
	defer func() {
		restore(v.rend.Vars, scenario.VarLoopCount, prevCount, hadCount)
		restore(v.rend.Vars, scenario.VarLoopElement, prevElem, hadElem)
	}()
	for i := range n {
		v.rend.Vars[scenario.VarLoopCount] = float64(i + 1)
		if over != nil {
			v.rend.Vars[scenario.VarLoopElement] = v.rend.Render(over[i])
		}
		if err := v.run(ctx, l.Steps); err != nil {
			return err
		}
	}
	return nil
}

func restore(m scenario.Vars, k string, v any, had bool) {
	if had {
		m[k] = v
	} else {
		delete(m, k)
	}
}

// action runs one measured step and records it.
func (v *vu) action(ctx context.Context, st *scenario.Step) error {
	start := time.Now()
	since := v.lastStart
	v.lastStart = start
	out, err := v.do(ctx, st, start, since)
	end := time.Now()
	if ctx.Err() != nil && err != nil {
		// Interrupted: neither a success nor the server's fault.
		return ctx.Err()
	}
	kind := ""
	if err != nil {
		out = outError
		var se *stepErr
		if errors.As(err, &se) {
			kind = se.kind
		} else {
			kind = "failed"
		}
		v.r.errs.Add(st.Name + ": " + kind)
	}
	v.r.stats.record(st.Name, v.tr, out, end.Sub(start), kind)
	v.r.series.action(end, end.Sub(start), out == outError)
	if out == outError {
		return fmt.Errorf("step %s: %w", st, err)
	}
	return nil
}

func (v *vu) do(ctx context.Context, st *scenario.Step, start, since time.Time) (outcome, error) {
	switch st.Kind {
	case scenario.KindEmit:
		return outOK, v.emit(ctx, st, start)
	case scenario.KindJoin:
		return outOK, v.join(ctx, st.Join)
	case scenario.KindLeave:
		return outOK, v.leave(ctx)
	case scenario.KindHold, scenario.KindBook, scenario.KindRelease:
		return v.slot(ctx, st.Kind, st.Slot)
	case scenario.KindWaitFor:
		return outOK, v.waitFor(ctx, st.WaitFor, since)
	}
	return outError, fail("unknown_step", fmt.Errorf("%s", st.Kind))
}

func (v *vu) emit(ctx context.Context, st *scenario.Step, start time.Time) error {
	e := st.Emit
	conn := v.conn
	if ns := st.Namespace; ns != "" && ns != "/" {
		var err error
		if conn, err = v.namespace(ctx, ns); err != nil {
			return fail("namespace_connect", err)
		}
	}
	args := make([]any, len(e.Data))
	for i, d := range e.Data {
		args[i] = v.rend.Render(d)
	}
	channel := v.rend.String(e.Channel)
	switch {
	case e.Ack != nil:
		actx, cancel := context.WithTimeout(ctx, e.Timeout)
		defer cancel()
		ack, err := conn.EmitWithAck(actx, channel, args...)
		if err != nil {
			if actx.Err() != nil && ctx.Err() == nil {
				return fail("ack_timeout", err)
			}
			return fail("emit_failed", err)
		}
		if err := e.Ack.Check(ack, v.rend); err != nil {
			return fail("ack_mismatch", err)
		}
	default:
		if err := conn.Emit(channel, args...); err != nil {
			return fail("emit_failed", err)
		}
	}
	if e.Response != nil {
		x := e.Response
		var why error
		_, err := v.await(ctx, v.rend.String(x.Channel), start, e.Timeout, func(ev event) bool {
			why = x.Check(ev.args, v.rend)
			return why == nil
		})
		switch {
		case errors.Is(err, errTimeout) && why != nil:
			return fail("response_mismatch", why)
		case errors.Is(err, errTimeout):
			return fail("response_timeout", fmt.Errorf("no %s within %v", x.Channel, e.Timeout))
		case err != nil:
			return err
		}
	}
	return nil
}

// namespace returns the user's connection to namespace ns, opening it
// on first use.
func (v *vu) namespace(ctx context.Context, ns string) (Conn, error) {
	if c, ok := v.nsConns[ns]; ok {
		return c, nil
	}
	o := v.dial
	o.Namespace = ns
	c, err := v.r.cfg.Dial(ctx, o)
	if err != nil {
		return nil, err
	}
	if v.nsConns == nil {
		v.nsConns = map[string]Conn{}
	}
	v.nsConns[ns] = c
	return c, nil
}

// closeAll closes every connection of the user.
func (v *vu) closeAll() {
	for _, c := range v.nsConns {
		_ = c.Close()
	}
	_ = v.conn.Close()
}

func (v *vu) waitFor(ctx context.Context, w *scenario.WaitFor, since time.Time) error {
	var why error
	_, err := v.await(ctx, v.rend.String(w.Event), since, w.Timeout, func(ev event) bool {
		why = decodeAndMatch(ev.args, w.Match, v.rend)
		return why == nil
	})
	switch {
	case errors.Is(err, errTimeout) && why != nil:
		return fail("wait_mismatch", why)
	case errors.Is(err, errTimeout):
		return fail("wait_timeout", fmt.Errorf("no %s within %v", w.Event, w.Timeout))
	}
	return err
}

func decodeAndMatch(args []json.RawMessage, ms []scenario.Match, r *scenario.Renderer) error {
	if len(ms) == 0 {
		return nil
	}
	all := make([]any, len(args))
	for i, a := range args {
		if err := json.Unmarshal(a, &all[i]); err != nil {
			return err
		}
	}
	return scenario.CheckMatches(all, ms, r)
}

func (v *vu) id(field, tmpl string) (int64, error) {
	s := v.rend.String(tmpl)
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fail("bad_"+field, fmt.Errorf("%s %q is not a number", field, s))
	}
	return n, nil
}

func (v *vu) join(ctx context.Context, j *scenario.Join) error {
	spazio, err := v.id("spazio", j.Spazio)
	if err != nil {
		return err
	}
	sede, err := v.id("sede", j.Sede)
	if err != nil {
		return err
	}
	date := v.rend.String(j.Date)
	req := map[string]any{"spazioId": spazio, "sedeId": sede}
	if date != "" {
		req["date"] = date
	}
	room := roomOf(spazio)
	if v.room != "" && v.room != room {
		v.r.ledger.leave(v.room, v, time.Now())
	}
	// Join the ledger's room first: updates may reach the user as soon
	// as the server has joined it, before the ack.
	v.r.ledger.join(room, v)
	if err := v.ackOK(ctx, protocol.EventJoinSpace, req); err != nil {
		v.r.ledger.leave(room, v, time.Now())
		v.room = ""
		return err
	}
	v.spazio, v.sede, v.date, v.room = spazio, sede, date, room
	return nil
}

func (v *vu) leave(ctx context.Context) error {
	if v.room == "" {
		return fail("not_joined", errors.New("leave before any join"))
	}
	err := v.ackOK(ctx, protocol.EventLeaveSpace, map[string]any{"spazioId": v.spazio, "sedeId": v.sede})
	v.r.ledger.leave(v.room, v, time.Now())
	v.room = ""
	return err
}

// ackOK emits a domain event and checks its {success} acknowledgement.
func (v *vu) ackOK(ctx context.Context, event string, payload any) error {
	actx, cancel := context.WithTimeout(ctx, v.r.timeout)
	defer cancel()
	args, err := v.conn.EmitWithAck(actx, event, payload)
	if err != nil {
		if actx.Err() != nil && ctx.Err() == nil {
			return fail("ack_timeout", err)
		}
		return fail("emit_failed", err)
	}
	var ack protocol.Ack
	if len(args) == 0 || json.Unmarshal(args[0], &ack) != nil {
		return fail("bad_ack", fmt.Errorf("%s answered %s", event, args))
	}
	if !ack.Success {
		return fail("refused "+ack.Code, errors.New(ack.Error))
	}
	return nil
}

func (v *vu) slot(ctx context.Context, kind scenario.Kind, s *scenario.SlotStep) (outcome, error) {
	if s.Slot == "" && s.Spazio == "" && s.Date == "" {
		// Book or release the slot held last, wherever it was.
		if v.lastHeld == (slotRef{}) {
			return outSkipped, nil
		}
		return v.slotAt(ctx, kind, v.lastHeld, v.lastHeldSede)
	}
	n, err := v.id("slot", s.Slot)
	if err != nil {
		return outError, err
	}
	spazio, sede, date := v.spazio, v.sede, v.date
	if s.Spazio != "" {
		if spazio, err = v.id("spazio", s.Spazio); err != nil {
			return outError, err
		}
	}
	if s.Sede != "" {
		if sede, err = v.id("sede", s.Sede); err != nil {
			return outError, err
		}
	}
	if s.Date != "" {
		date = v.rend.String(s.Date)
	}
	if spazio == 0 || date == "" {
		return outError, fail("no_space", errors.New("hold, book and release need a space and date: join one with a date or name them"))
	}
	return v.slotAt(ctx, kind, slotRef{spazio: spazio, date: date, slot: int(n)}, sede)
}

func (v *vu) slotAt(ctx context.Context, kind scenario.Kind, ref slotRef, sede int64) (outcome, error) {
	spazio, date, n := ref.spazio, ref.date, ref.slot
	var err error
	if kind != scenario.KindHold && !v.holding[ref] {
		return outSkipped, nil
	}
	status := map[scenario.Kind]string{scenario.KindHold: protocol.StatusOccupied, scenario.KindBook: protocol.StatusBooked, scenario.KindRelease: protocol.StatusAvailable}[kind]
	key := updateKey{spazio: spazio, date: date, slot: n, status: status}
	sent := time.Now()
	who := v.r.ledger.expect(roomOf(spazio), key, sent)
	req := protocol.SlotActionRequest{IDSpazio: spazio, SedeID: sede, Date: date}
	cctx, cancel := context.WithTimeout(ctx, v.r.timeout)
	defer cancel()
	switch kind {
	case scenario.KindHold:
		_, err = v.rest.Hold(cctx, n, req)
	case scenario.KindBook:
		_, err = v.rest.Book(cctx, n, req)
	default:
		_, err = v.rest.Release(cctx, n, req)
	}
	if err != nil {
		v.r.ledger.cancel(who, key, sent)
		var ae *client.APIError
		if errors.As(err, &ae) {
			if ae.Status == http.StatusConflict || ae.Status == http.StatusTooManyRequests {
				return outRefused, nil
			}
			kindText := "http_" + strconv.Itoa(ae.Status)
			if ae.Code != "" {
				kindText += " " + ae.Code
			}
			return outError, fail(kindText, err)
		}
		if cctx.Err() != nil && ctx.Err() == nil {
			return outError, fail("timeout", err)
		}
		return outError, fail("failed", err)
	}
	switch kind {
	case scenario.KindHold:
		v.holding[ref] = true
		v.lastHeld, v.lastHeldSede = ref, sede
	default:
		delete(v.holding, ref)
	}
	return outOK, nil
}

func roomOf(spazio int64) string { return strconv.FormatInt(spazio, 10) }
