package parser

// Engine.IO v4 packet types, as the first byte of a text packet.
const (
	EngineOpen    = '0'
	EngineClose   = '1'
	EnginePing    = '2'
	EnginePong    = '3'
	EngineMessage = '4'
	EngineUpgrade = '5'
	EngineNoop    = '6'
)

// RecordSeparator joins the packets of a long-polling payload.
const RecordSeparator = 0x1e

// CountPackets is the number of packets in a polling payload, so a
// receiver can refuse an oversized one before decoding any of it.
func CountPackets(payload []byte) int {
	n := 1
	for _, c := range payload {
		if c == RecordSeparator {
			n++
		}
	}
	return n
}

// CutPacket splits the first packet off a polling payload; more reports
// whether rest holds another one (possibly empty).
func CutPacket(payload []byte) (p, rest []byte, more bool) {
	for i, c := range payload {
		if c == RecordSeparator {
			return payload[:i], payload[i+1:], true
		}
	}
	return payload, nil, false
}
