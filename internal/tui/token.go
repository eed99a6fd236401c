package tui

import (
	"fmt"
	"time"
)

// TokenWarnBefore is how long before a --token expires the dashboard
// starts warning; tokenNotices lists when it says so in the event log.
const TokenWarnBefore = 5 * time.Minute

var tokenNotices = []time.Duration{TokenWarnBefore, time.Minute, 0}

// tokenWatch announces the end of a token watch cannot renew: once per
// threshold crossed (the latest only, when several are crossed at once).
type tokenWatch struct {
	exp    time.Time
	loc    *time.Location
	next   int  // index into tokenNotices
	refuse bool // the refusal after expiry was explained
}

// notice returns the log line due at now, if any.
func (w *tokenWatch) notice(now time.Time) (LogEntry, bool) {
	if w.exp.IsZero() {
		return LogEntry{}, false
	}
	left := w.exp.Sub(now)
	i := w.next
	for i < len(tokenNotices) && left <= tokenNotices[i] {
		i++
	}
	if i == w.next {
		return LogEntry{}, false
	}
	w.next = i
	at := w.exp.In(w.loc).Format("15:04:05")
	e := LogEntry{At: now, Name: "token", State: true}
	if left <= 0 {
		e.Summary = "expired at " + at + ": the server ends the session and refuses it; restart watch with a fresh --token (or --jwt-secret, which renews by itself)"
	} else {
		e.Summary = fmt.Sprintf("expires in %s, at %s: restart watch with a fresh --token before then (or use --jwt-secret, which renews by itself)", shortDur(left.Round(time.Second)), at)
	}
	return e, true
}

// refused explains, once, a refusal of an expired token in plain words.
func (w *tokenWatch) refused(now time.Time) (LogEntry, bool) {
	if w.exp.IsZero() || now.Before(w.exp) || w.refuse {
		return LogEntry{}, false
	}
	w.refuse = true
	return LogEntry{At: now, Name: "token", State: true,
		Summary: "the server refuses the token because it expired at " + w.exp.In(w.loc).Format("15:04:05") + "; restart watch with a fresh --token"}, true
}
