package loadtest

import (
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"time"
)

// csvHeader names the columns of WriteCSV.
var csvHeader = []string{"second", "phase", "connects", "sent", "delivered", "p50_ms", "p99_ms", "max_ms", "errors", "holds"}

// WriteCSV writes rep's per-second series: a header row, then one row per
// started second of the run (second 0 begins with the connect phase).
// Latency cells are empty in seconds without deliveries. An interrupted
// run ends with a row whose phase is "interrupted".
func (rep *Report) WriteCSV(w io.Writer) error {
	if rep.Series == nil {
		return errors.New("report has no per-second series")
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	msCell := func(s Second, d time.Duration) string {
		if s.Latency.Count == 0 {
			return ""
		}
		return strconv.FormatFloat(ms(d), 'f', -1, 64)
	}
	for i, s := range rep.Series.Seconds {
		row := []string{strconv.Itoa(i), rep.Series.Phase(i), u(s.Connects), u(s.Sent), u(s.Delivered),
			msCell(s, s.Latency.P50), msCell(s, s.Latency.P99), msCell(s, s.Latency.Max), u(s.Errors), u(s.Holds)}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	if rep.Interrupted {
		row := make([]string, len(csvHeader))
		row[0], row[1] = strconv.Itoa(len(rep.Series.Seconds)), "interrupted"
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
