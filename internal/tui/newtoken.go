package tui

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// TokenFunc gives the connection and the REST calls a new token (the T
// key); an empty token means "read it again from where it came from"
// (--token-file). It answers with what the token says of itself.
type TokenFunc func(ctx context.Context, token string) (TokenInfo, error)

// TokenInfo is what the dashboard shows of a token.
type TokenInfo struct {
	// Expires is its exp (zero: none, or renewed by watch itself).
	Expires time.Time
	// Staff: its ruolo is a staff role.
	Staff bool
}

// ErrTokenRefused wraps a TokenFunc's error when the server refused the
// new token (its text follows the last ": ").
var ErrTokenRefused = errors.New("token refused")

// TokenMsg is the outcome of giving the connection a new token.
type TokenMsg struct {
	Info TokenInfo
	Err  error
}

// tokenPromptLimit bounds a pasted token.
const tokenPromptLimit = 4096

// startTokenPrompt (T) opens the prompt for a new token.
func (m *Model) startTokenPrompt() {
	if m.cfg.SetToken == nil {
		m.tell("token", "this dashboard cannot take a new token")
		return
	}
	m.tokenInput = &lineInput{prompt: "new token: ", placeholder: "paste, enter; empty: --token-file; esc drops", limit: tokenPromptLimit}
	m.tokenInput.Focus()
}

// tokenKey edits the token prompt; enter applies, esc drops it.
func (m *Model) tokenKey(k tea.KeyMsg) tea.Cmd {
	switch k.Type {
	case tea.KeyEsc:
		m.tokenInput = nil
		m.tell("token", "new token dropped")
		return nil
	case tea.KeyEnter:
		tok := m.tokenInput.Value()
		m.tokenInput = nil
		m.tell("token", "trying the new token…")
		set := m.cfg.SetToken
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			info, err := set(ctx, tok)
			return TokenMsg{Info: info, Err: err}
		}
	}
	if k.Type == tea.KeyRunes && len(k.Runes) > 0 {
		// A pasted token may carry the line break of its file.
		runes := k.Runes[:0:0]
		for _, r := range k.Runes {
			if r != '\n' && r != '\r' && r != ' ' {
				runes = append(runes, r)
			}
		}
		k.Runes = runes
	}
	m.tokenInput.Update(k)
	return nil
}

// tokenSet applies the outcome of a new token.
func (m *Model) tokenSet(msg TokenMsg) tea.Cmd {
	if msg.Err != nil {
		if errors.Is(msg.Err, ErrTokenRefused) {
			m.tell("token", "the server refused the new token too: "+lastClause(msg.Err.Error())+" (T to try another)")
		} else {
			m.tell("token", "the new token was not applied: "+msg.Err.Error())
		}
		return nil
	}
	m.token = tokenWatch{exp: msg.Info.Expires, loc: m.cfg.Location}
	m.stats.SetTokenExpiry(msg.Info.Expires)
	m.stats.TokenReplaced()
	m.setStaff(msg.Info.Staff)
	m.checkToken()
	m.tell("token", "new token applied: reloading")
	rooms := make([]string, 0, len(m.cfg.Spaces))
	for _, s := range m.cfg.Spaces {
		rooms = append(rooms, s.Room())
	}
	return m.reloadRooms(rooms, false)
}

// tokenRefused reports whether the last connection attempt was refused
// for its token (and not because it expired, which says so itself).
func (s Stats) tokenRefused() bool {
	return s.conn.Code == protocol.CodeAuthInvalid && !s.TokenExpired() && s.conn.State != client.StateConnected
}

// explainBadToken says once per refusal why the dashboard is offline
// and how to go on.
func (m *Model) explainBadToken() {
	if m.stats.TokenExpired() {
		return
	}
	hint := "press T for a new token"
	if m.cfg.SetToken == nil {
		hint = "restart watch with a valid --token"
	}
	m.tell("token", fmt.Sprintf("the server refused the token (%s): %s (new server secret?)", protocol.MsgSocketAuthInvalid, hint))
}
