package scenario

import (
	"fmt"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// Kind names what a step does.
type Kind string

// Step kinds. Emit, Think and Loop are Artillery's; the others are the
// coworking domain's.
const (
	KindEmit    Kind = "emit"
	KindThink   Kind = "think"
	KindLoop    Kind = "loop"
	KindJoin    Kind = "join"
	KindLeave   Kind = "leave"
	KindHold    Kind = "hold"
	KindBook    Kind = "book"
	KindRelease Kind = "release"
	KindWaitFor Kind = "wait_for"
)

// Step is one action of a flow. Template strings ({{ name }}) stay
// unrendered here; the runner renders them per virtual user.
type Step struct {
	Kind Kind
	// Name labels the step's figures (emit: its channel; domain steps:
	// their kind; or the step's own name key).
	Name string
	Line int

	// Namespace of an emit; empty means "/".
	Namespace string
	Emit      *Emit
	Think     Think
	Loop      *Loop
	// Join, Slot and WaitFor carry the domain steps' arguments.
	Join    *Join
	Slot    *SlotStep
	WaitFor *WaitFor
}

// Emit sends an event; with Ack or Response it waits for the answer.
type Emit struct {
	Channel string
	// Data holds the event's arguments (templated). The mapping form
	// always sends one (null when data is absent), as Artillery does; the
	// list form sends what it lists.
	Data []any
	// Ack, when set, asks for an acknowledgement and checks it.
	Ack *Expect
	// Response, when set, waits for an event on Response.Channel.
	Response *Expect
	// Timeout bounds the wait for Ack or Response; zero means 10 s.
	Timeout time.Duration
}

// Expect is what an answer must hold. Data compares the first argument;
// Match compares values at JSON paths. Both empty accept any answer.
type Expect struct {
	Channel string
	Data    any
	HasData bool
	Match   []Match
}

// Match compares the value at a JSON path ($.0.name) of the answer's
// arguments with Value.
type Match struct {
	JSON  string
	Value any
}

// Loop repeats Steps Count times, or once per element of Over (a list, or
// the name of a variable holding one).
type Loop struct {
	Steps   []*Step
	Count   int
	Over    []any
	OverVar string
}

// Join joins a space's room, optionally for a date (then a snapshot
// follows); its fields are templates.
type Join struct {
	Spazio, Sede, Date string
}

// SlotStep is hold, book or release of one slot over REST, in the space
// and date of the last join unless given; fields are templates. Book and
// release without a slot act on the slot the user held last.
type SlotStep struct {
	Slot, Spazio, Sede, Date string
}

// WaitFor waits until the server sends Event (optionally matching),
// at most Timeout.
type WaitFor struct {
	Event   string
	Timeout time.Duration
	Match   []Match
}

// defaultTimeout bounds waits whose timeout the script leaves out.
const defaultTimeout = 10 * time.Second

func (p *parser) flow(n *yaml.Node) ([]*Step, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, "a flow must be a list of steps")
	}
	var out []*Step
	for _, sn := range n.Content {
		st, err := p.step(sn)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

var stepKeys = map[string]Kind{
	"emit": KindEmit, "think": KindThink, "loop": KindLoop, "join": KindJoin,
	"leave": KindLeave, "hold": KindHold, "book": KindBook, "release": KindRelease,
	"wait_for": KindWaitFor,
}

func (p *parser) step(n *yaml.Node) (*Step, error) {
	if err := p.mapping(n, "a step"); err != nil {
		return nil, err
	}
	st := &Step{Line: n.Line}
	var body, ack, resp, count, over *yaml.Node
	err := eachKey(n, func(k string, kn, v *yaml.Node) error {
		if kind, ok := stepKeys[k]; ok {
			if st.Kind != "" {
				return p.errf(kn, "a step does one thing: %s and %s", st.Kind, k)
			}
			st.Kind, body = kind, v
			return nil
		}
		switch k {
		case "namespace":
			st.Namespace = v.Value
		case "name":
			st.Name = v.Value
		case "acknowledge":
			ack = v
		case "response":
			resp = v
		case "count":
			count = v
		case "over":
			over = v
		case "log", "function":
			return p.errf(kn, "%s steps are not supported", k)
		default:
			return p.errf(kn, "unknown step key %q (want emit, think, loop, join, leave, hold, book, release or wait_for)", k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if st.Kind == "" {
		return nil, p.errf(n, "a step needs one of emit, think, loop, join, leave, hold, book, release, wait_for")
	}
	if st.Kind != KindEmit && (ack != nil || resp != nil || st.Namespace != "") {
		return nil, p.errf(n, "acknowledge, response and namespace belong to an emit step")
	}
	if st.Kind != KindLoop && (count != nil || over != nil) {
		return nil, p.errf(n, "count and over belong to a loop step")
	}
	switch st.Kind {
	case KindEmit:
		err = p.emit(st, body, ack, resp)
	case KindThink:
		st.Think, err = p.think(body)
	case KindLoop:
		err = p.loop(st, body, count, over)
	case KindJoin:
		err = p.join(st, body)
	case KindLeave:
		if body.Kind != yaml.ScalarNode && !(body.Kind == yaml.MappingNode && len(body.Content) == 0) {
			return nil, p.errf(body, "leave takes no arguments: it leaves the room of the last join")
		}
	case KindHold, KindBook, KindRelease:
		err = p.slot(st, body)
	case KindWaitFor:
		err = p.waitFor(st, body)
	}
	if err != nil {
		return nil, err
	}
	if st.Name == "" {
		st.Name = string(st.Kind)
		if st.Kind == KindEmit {
			st.Name = st.Emit.Channel
		}
	}
	return st, nil
}

func (p *parser) emit(st *Step, body, ack, resp *yaml.Node) error {
	e := &Emit{Timeout: defaultTimeout}
	switch body.Kind {
	case yaml.SequenceNode: // emit: [channel, arg…]
		if len(body.Content) == 0 {
			return p.errf(body, "emit needs a channel")
		}
		e.Channel = body.Content[0].Value
		for _, a := range body.Content[1:] {
			var v any
			if err := a.Decode(&v); err != nil {
				return p.errf(a, "emit data: %v", err)
			}
			e.Data = append(e.Data, v)
		}
	case yaml.MappingNode:
		// Artillery sends channel and data, data or not: a handler
		// written as (data, callback) finds its callback second.
		e.Data = []any{nil}
		err := eachKey(body, func(k string, kn, v *yaml.Node) error {
			switch k {
			case "channel":
				e.Channel = v.Value
			case "data":
				var d any
				if err := v.Decode(&d); err != nil {
					return p.errf(v, "emit data: %v", err)
				}
				e.Data = []any{d}
			case "timeout":
				d, err := p.seconds(v, "timeout")
				e.Timeout = d
				return err
			case "namespace":
				st.Namespace = v.Value
			case "acknowledge":
				ack = v
			case "response":
				resp = v
			default:
				return p.errf(kn, "unknown emit key %q (want channel, data, namespace, acknowledge, response or timeout)", k)
			}
			return nil
		})
		if err != nil {
			return err
		}
	default:
		return p.errf(body, "emit needs a channel: emit: {channel: …, data: …}")
	}
	if e.Channel == "" {
		return p.errf(body, "emit needs a channel")
	}
	var err error
	if ack != nil {
		if e.Ack, err = p.expect(ack, "acknowledge", false); err != nil {
			return err
		}
	}
	if resp != nil {
		if e.Response, err = p.expect(resp, "response", true); err != nil {
			return err
		}
	}
	st.Emit = e
	return nil
}

func (p *parser) expect(n *yaml.Node, what string, needChannel bool) (*Expect, error) {
	x := &Expect{}
	if n.Kind == yaml.ScalarNode && n.Value == "" || n.Tag == "!!null" {
		if needChannel {
			return nil, p.errf(n, "%s needs a channel", what)
		}
		return x, nil
	}
	if err := p.mapping(n, what); err != nil {
		return nil, err
	}
	err := eachKey(n, func(k string, kn, v *yaml.Node) error {
		switch k {
		case "channel":
			x.Channel = v.Value
		case "data":
			x.HasData = true
			return v.Decode(&x.Data)
		case "match":
			m, err := p.matches(v)
			x.Match = m
			return err
		case "args", "capture":
			return p.errf(kn, "%s.%s is not supported; use match with a json path", what, k)
		default:
			return p.errf(kn, "unknown %s key %q (want channel, data or match)", what, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if needChannel && x.Channel == "" {
		return nil, p.errf(n, "%s needs a channel", what)
	}
	return x, nil
}

func (p *parser) matches(n *yaml.Node) ([]Match, error) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	var out []Match
	for _, it := range items {
		var m struct {
			JSON  string `yaml:"json"`
			Value any    `yaml:"value"`
		}
		if err := it.Decode(&m); err != nil || m.JSON == "" {
			return nil, p.errf(it, "match needs json (a path such as $.0.name) and value")
		}
		if _, err := parsePath(m.JSON); err != nil {
			return nil, p.errf(it, "match: %v", err)
		}
		out = append(out, Match{JSON: m.JSON, Value: m.Value})
	}
	return out, nil
}

func (p *parser) loop(st *Step, body, count, over *yaml.Node) error {
	l := &Loop{}
	steps, err := p.flow(body)
	if err != nil {
		return err
	}
	if len(steps) == 0 {
		return p.errf(body, "a loop needs steps")
	}
	l.Steps = steps
	switch {
	case count != nil && over != nil:
		return p.errf(count, "a loop has count or over, not both")
	case count != nil:
		c, err := strconv.Atoi(count.Value)
		if err != nil || c < 0 {
			return p.errf(count, "loop count must be a whole number ≥ 0")
		}
		l.Count = c
	case over != nil:
		if over.Kind == yaml.ScalarNode {
			l.OverVar = over.Value
		} else if err := over.Decode(&l.Over); err != nil {
			return p.errf(over, "loop over must be a list or a variable's name")
		}
	default:
		return p.errf(body, "a loop needs count or over: a loop without end would outlive the test")
	}
	st.Loop = l
	return nil
}

// fields decodes a mapping of scalars into templates, refusing unknown
// keys.
func (p *parser) fields(n *yaml.Node, what string, dst map[string]*string) error {
	if n.Kind == yaml.ScalarNode && n.Value == "" {
		return nil
	}
	if err := p.mapping(n, what); err != nil {
		return err
	}
	return eachKey(n, func(k string, kn, v *yaml.Node) error {
		ptr, ok := dst[k]
		if !ok {
			return p.errf(kn, "unknown %s key %q", what, k)
		}
		if v.Kind != yaml.ScalarNode {
			return p.errf(v, "%s.%s must be a scalar", what, k)
		}
		*ptr = v.Value
		return nil
	})
}

func (p *parser) join(st *Step, n *yaml.Node) error {
	j := &Join{}
	if err := p.fields(n, "join", map[string]*string{"spazio": &j.Spazio, "space": &j.Spazio, "sede": &j.Sede, "date": &j.Date}); err != nil {
		return err
	}
	if j.Spazio == "" || j.Sede == "" {
		return p.errf(n, "join needs spazio and sede (date is optional)")
	}
	st.Join = j
	return nil
}

func (p *parser) slot(st *Step, n *yaml.Node) error {
	s := &SlotStep{}
	if err := p.fields(n, string(st.Kind), map[string]*string{"slot": &s.Slot, "spazio": &s.Spazio, "space": &s.Spazio, "sede": &s.Sede, "date": &s.Date}); err != nil {
		return err
	}
	if s.Slot == "" && st.Kind == KindHold {
		return p.errf(n, "hold needs slot (1 = the first hour of the day)")
	}
	st.Slot = s
	return nil
}

func (p *parser) waitFor(st *Step, n *yaml.Node) error {
	w := &WaitFor{Timeout: defaultTimeout}
	if n.Kind == yaml.ScalarNode {
		w.Event = n.Value
	} else {
		if err := p.mapping(n, "wait_for"); err != nil {
			return err
		}
		err := eachKey(n, func(k string, kn, v *yaml.Node) error {
			switch k {
			case "event":
				w.Event = v.Value
			case "timeout":
				d, err := p.seconds(v, "timeout")
				w.Timeout = d
				return err
			case "match":
				m, err := p.matches(v)
				w.Match = m
				return err
			default:
				return p.errf(kn, "unknown wait_for key %q (want event, timeout or match)", k)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if w.Event == "" {
		return p.errf(n, "wait_for needs an event")
	}
	st.WaitFor = w
	return nil
}

func (st *Step) String() string { return fmt.Sprintf("%s (line %d)", st.Name, st.Line) }
