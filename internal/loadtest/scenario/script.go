// Package scenario reads load-test scripts shaped like Artillery's
// (config.target, config.phases, config.payload, config.variables,
// config.socketio and weighted scenarios with a flow of steps) and
// schedules their virtual users. It knows nothing of sockets: the runner
// that executes a flow lives in internal/loadtest/vuser.
package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ErrScript wraps every error about an unusable script.
var ErrScript = errors.New("scenario")

// Script is one parsed scenario file.
type Script struct {
	// File is where the script was read from; empty for Parse.
	File      string
	Config    Config
	Scenarios []*Scenario
}

// Config is the script's config section.
type Config struct {
	// Target is the server's base URL; empty means it must come from
	// --target.
	Target string
	Phases []Phase
	// Payload lists CSV files; each virtual user takes one row of each.
	Payload []*Payload
	// Variables name lists of values; each virtual user picks one value of
	// each at random.
	Variables map[string][]any
	SocketIO  SocketIO
}

// DefaultTransports are socket.io-client's, and so Artillery's, when a
// script names none: open on long-polling, then upgrade to websocket. A
// script then measures the same connection in both tools.
var DefaultTransports = []string{"polling", "websocket"}

// SocketIO is config.socketio: how every virtual user connects.
type SocketIO struct {
	// Query is added to the handshake's query string.
	Query map[string]string
	// Auth is the CONNECT payload; nil means the runner's default (the
	// virtual user's token as {"token": …}).
	Auth map[string]any
	// Transports in order: the first opens the connection, which then
	// upgrades to websocket if that is listed too. A script that names
	// none gets DefaultTransports; with upgrade: false, only the first.
	Transports []string
	// Path of the Engine.IO endpoint; empty means /socket.io/.
	Path string
	// ExtraHeaders go on every handshake request.
	ExtraHeaders map[string]string

	noUpgrade bool // upgrade: false, as socket.io-client's option
}

// Scenario is one weighted flow.
type Scenario struct {
	Name string
	// Weight is the relative chance a virtual user runs this scenario;
	// the zero value of the file (absent) means 1.
	Weight int
	Flow   []*Step
	Line   int
}

// Load reads and parses the script at path; payload files are relative to
// its directory.
func Load(path string) (*Script, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScript, err)
	}
	s, err := parse(b, path, filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Parse parses a script held in memory; payload paths are relative to dir.
func Parse(b []byte, dir string) (*Script, error) { return parse(b, "", dir) }

// posErr is an error at a line of the script.
type posErr struct {
	file string
	line int
	msg  string
}

func (e *posErr) Error() string {
	name := e.file
	if name == "" {
		name = "script"
	}
	if e.line > 0 {
		return fmt.Sprintf("%s:%d: %s", name, e.line, e.msg)
	}
	return name + ": " + e.msg
}

func (e *posErr) Unwrap() error { return ErrScript }

type parser struct {
	file string
	dir  string
}

func (p *parser) errf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &posErr{file: p.file, line: line, msg: fmt.Sprintf(format, args...)}
}

func parse(b []byte, file, dir string) (*Script, error) {
	p := &parser{file: file, dir: dir}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil {
		// yaml.v3 already says "yaml: line N: …".
		return nil, &posErr{file: file, msg: err.Error()}
	}
	if len(doc.Content) == 0 {
		return nil, p.errf(nil, "empty script")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, p.errf(root, "a script is a mapping with config and scenarios")
	}
	s := &Script{File: file}
	var sawScenarios bool
	err := eachKey(root, func(k string, kn, v *yaml.Node) error {
		switch k {
		case "config":
			return p.config(v, &s.Config)
		case "scenarios":
			sawScenarios = true
			return p.scenarios(v, s)
		case "before", "after":
			return p.errf(kn, "%s is not supported: put its steps at the start or end of a flow", k)
		default:
			return p.errf(kn, "unknown top-level key %q (want config or scenarios)", k)
		}
	})
	if err != nil {
		return nil, err
	}
	if !sawScenarios || len(s.Scenarios) == 0 {
		return nil, p.errf(root, "no scenarios")
	}
	if len(s.Config.Phases) == 0 {
		return nil, p.errf(root, "config.phases is empty: no virtual user would arrive")
	}
	if err := p.checkVars(s); err != nil {
		return nil, err
	}
	sio := &s.Config.SocketIO
	if len(sio.Transports) == 0 {
		sio.Transports = slices.Clone(DefaultTransports)
	}
	if sio.noUpgrade {
		sio.Transports = sio.Transports[:1]
	}
	return s, nil
}

// eachKey calls fn for every key of a mapping, refusing duplicates.
func eachKey(m *yaml.Node, fn func(k string, kn, v *yaml.Node) error) error {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, v := m.Content[i], m.Content[i+1]
		if seen[kn.Value] {
			return &posErr{line: kn.Line, msg: fmt.Sprintf("duplicate key %q", kn.Value)}
		}
		seen[kn.Value] = true
		if err := fn(kn.Value, kn, v); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) mapping(n *yaml.Node, what string) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n, "%s must be a mapping", what)
	}
	return nil
}

func (p *parser) config(n *yaml.Node, c *Config) error {
	if err := p.mapping(n, "config"); err != nil {
		return err
	}
	return eachKey(n, func(k string, kn, v *yaml.Node) error {
		switch k {
		case "target":
			c.Target = v.Value
			return nil
		case "phases":
			if v.Kind != yaml.SequenceNode {
				return p.errf(v, "config.phases must be a list")
			}
			for _, pn := range v.Content {
				ph, err := p.phase(pn)
				if err != nil {
					return err
				}
				c.Phases = append(c.Phases, ph)
			}
			return nil
		case "payload":
			items := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				items = v.Content
			}
			for _, it := range items {
				pl, err := p.payload(it)
				if err != nil {
					return err
				}
				c.Payload = append(c.Payload, pl)
			}
			return nil
		case "variables":
			return p.variables(v, c)
		case "socketio":
			return p.socketio(v, &c.SocketIO)
		case "engines", "plugins", "processor", "http", "tls", "ensure", "environments":
			// Artillery settings that do not change what a virtual
			// user does here; accepted so existing scripts load.
			return nil
		default:
			return p.errf(kn, "unknown config key %q", k)
		}
	})
}

func (p *parser) phase(n *yaml.Node) (Phase, error) {
	ph := Phase{Line: n.Line}
	if err := p.mapping(n, "a phase"); err != nil {
		return ph, err
	}
	err := eachKey(n, func(k string, kn, v *yaml.Node) error {
		var err error
		switch k {
		case "name":
			ph.Name = v.Value
		case "duration":
			ph.Duration, err = p.seconds(v, "duration")
		case "pause":
			ph.Pause, err = p.seconds(v, "pause")
		case "arrivalRate":
			ph.ArrivalRate, err = p.number(v, "arrivalRate")
		case "rampTo":
			ph.RampTo, err = p.number(v, "rampTo")
			ph.hasRamp = true
		case "arrivalCount":
			var f float64
			f, err = p.number(v, "arrivalCount")
			ph.ArrivalCount = int(f)
			if err == nil && float64(ph.ArrivalCount) != f {
				err = p.errf(v, "arrivalCount must be a whole number")
			}
		case "maxVusers":
			var f float64
			f, err = p.number(v, "maxVusers")
			ph.MaxVusers = int(f)
		default:
			err = p.errf(kn, "unknown phase key %q (want duration, arrivalRate, rampTo, arrivalCount, pause, maxVusers or name)", k)
		}
		return err
	})
	if err != nil {
		return ph, err
	}
	return ph, p.checkPhase(n, ph)
}

func (p *parser) checkPhase(n *yaml.Node, ph Phase) error {
	switch {
	case ph.Pause > 0:
		if ph.Duration > 0 || ph.ArrivalRate > 0 || ph.ArrivalCount > 0 || ph.hasRamp {
			return p.errf(n, "a pause phase has only pause (and name)")
		}
	case ph.Duration <= 0:
		return p.errf(n, "a phase needs a positive duration (or pause)")
	case ph.ArrivalCount > 0 && (ph.ArrivalRate > 0 || ph.hasRamp):
		return p.errf(n, "a phase has arrivalCount or arrivalRate, not both")
	case ph.ArrivalCount == 0 && ph.ArrivalRate == 0 && ph.RampTo == 0:
		return p.errf(n, "a phase needs arrivalRate, rampTo or arrivalCount")
	case ph.ArrivalRate < 0 || ph.RampTo < 0 || ph.ArrivalCount < 0 || ph.MaxVusers < 0:
		return p.errf(n, "phase rates and counts cannot be negative")
	}
	return nil
}

// seconds reads a duration: a number of seconds as Artillery writes it, or
// a Go duration string such as "500ms" or "2m".
func (p *parser) seconds(v *yaml.Node, what string) (time.Duration, error) {
	if v.Kind != yaml.ScalarNode {
		return 0, p.errf(v, "%s must be a number of seconds or a duration such as 500ms", what)
	}
	if f, err := strconv.ParseFloat(v.Value, 64); err == nil {
		if f < 0 {
			return 0, p.errf(v, "%s cannot be negative", what)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	s := v.Value
	switch {
	case strings.HasSuffix(s, "min"): // Artillery's 5min
		s = strings.TrimSuffix(s, "in")
	case strings.HasSuffix(s, "sec"):
		s = strings.TrimSuffix(s, "ec")
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, p.errf(v, "%s %q is not a number of seconds or a duration such as 500ms", what, v.Value)
	}
	return d, nil
}

func (p *parser) number(v *yaml.Node, what string) (float64, error) {
	f, err := strconv.ParseFloat(v.Value, 64)
	if v.Kind != yaml.ScalarNode || err != nil {
		return 0, p.errf(v, "%s must be a number, not %q", what, v.Value)
	}
	return f, nil
}

func (p *parser) variables(n *yaml.Node, c *Config) error {
	if err := p.mapping(n, "config.variables"); err != nil {
		return err
	}
	c.Variables = map[string][]any{}
	return eachKey(n, func(k string, _, v *yaml.Node) error {
		var val any
		if err := v.Decode(&val); err != nil {
			return p.errf(v, "variable %s: %v", k, err)
		}
		if list, ok := val.([]any); ok {
			if len(list) == 0 {
				return p.errf(v, "variable %s has no values", k)
			}
			c.Variables[k] = list
		} else {
			c.Variables[k] = []any{val}
		}
		return nil
	})
}

func (p *parser) socketio(n *yaml.Node, s *SocketIO) error {
	if err := p.mapping(n, "config.socketio"); err != nil {
		return err
	}
	return eachKey(n, func(k string, kn, v *yaml.Node) error {
		switch k {
		case "query":
			s.Query = map[string]string{}
			if v.Kind == yaml.ScalarNode {
				// Artillery also takes "a=1&b=2".
				for _, kv := range strings.Split(v.Value, "&") {
					if kv == "" {
						continue
					}
					name, val, _ := strings.Cut(kv, "=")
					s.Query[name] = val
				}
				return nil
			}
			if err := v.Decode(&s.Query); err != nil {
				return p.errf(v, "config.socketio.query: %v", err)
			}
		case "auth":
			if err := v.Decode(&s.Auth); err != nil {
				return p.errf(v, "config.socketio.auth must be a mapping: %v", err)
			}
		case "transports":
			if err := v.Decode(&s.Transports); err != nil {
				return p.errf(v, "config.socketio.transports must be a list: %v", err)
			}
			for _, t := range s.Transports {
				if t != "websocket" && t != "polling" {
					return p.errf(v, "unknown transport %q (want websocket or polling)", t)
				}
			}
		case "path":
			s.Path = v.Value
		case "extraHeaders":
			if err := v.Decode(&s.ExtraHeaders); err != nil {
				return p.errf(v, "config.socketio.extraHeaders must map names to strings: %v", err)
			}
		case "upgrade":
			var up bool
			if err := v.Decode(&up); err != nil {
				return p.errf(v, "config.socketio.upgrade must be true or false: %v", err)
			}
			s.noUpgrade = !up
		case "timeout", "reconnection", "forceNew":
			// socket.io-client options with no effect on one
			// connection per virtual user without reconnection.
		default:
			return p.errf(kn, "unknown config.socketio key %q (want query, auth, transports, path or extraHeaders)", k)
		}
		return nil
	})
}

func (p *parser) scenarios(n *yaml.Node, s *Script) error {
	if n.Kind != yaml.SequenceNode {
		return p.errf(n, "scenarios must be a list")
	}
	for i, sn := range n.Content {
		if err := p.mapping(sn, "a scenario"); err != nil {
			return err
		}
		sc := &Scenario{Line: sn.Line, Weight: 1, Name: fmt.Sprintf("scenario %d", i+1)}
		var sawFlow bool
		err := eachKey(sn, func(k string, kn, v *yaml.Node) error {
			switch k {
			case "name":
				sc.Name = v.Value
			case "engine":
				if v.Value != "socketio" && v.Value != "socketio-v3" {
					return p.errf(v, "engine %q is not supported (want socketio)", v.Value)
				}
			case "weight":
				w, err := strconv.Atoi(v.Value)
				if err != nil || w < 0 {
					return p.errf(v, "weight must be a whole number ≥ 0")
				}
				sc.Weight = w
			case "flow":
				sawFlow = true
				flow, err := p.flow(v)
				sc.Flow = flow
				return err
			case "beforeScenario", "afterScenario":
				return p.errf(kn, "%s names a JavaScript hook; hooks are not supported", k)
			default:
				return p.errf(kn, "unknown scenario key %q (want name, engine, weight or flow)", k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !sawFlow || len(sc.Flow) == 0 {
			return p.errf(sn, "scenario %q has no flow", sc.Name)
		}
		s.Scenarios = append(s.Scenarios, sc)
	}
	if !slices.ContainsFunc(s.Scenarios, func(sc *Scenario) bool { return sc.Weight > 0 }) {
		return p.errf(n, "every scenario has weight 0")
	}
	return nil
}
