package mio

import (
	"context"
	"os"
	"testing"

	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/store/storetest"
)

// TestConformance runs the store conformance suite on the backend's
// tables, whose catalog is their Sede and Spazio rows.
func TestConformance(t *testing.T) {
	if os.Getenv(postgresURLEnv) == "" {
		t.Skipf("the coworking-mio layout needs PostgreSQL: set %s, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable", postgresURLEnv)
	}
	storetest.Run(t, storetest.Layout{
		Name:    "coworking-mio",
		Catalog: conformanceCatalog(),
		// Sede and Spazio are the backend's, never written.
		CatalogWritable: false,
		// data_creazione is the database's CURRENT_TIMESTAMP, as for the
		// backend's own rows, and no time of the last change is kept.
		KeepsRowTimes: false,
		NewDB: func(t testing.TB) func(testing.TB) slots.Store {
			e := newEnv(t)
			e.exec(conformanceSeed)
			if err := Install(context.Background(), e.config()); err != nil {
				t.Fatalf("Install: %v", err)
			}
			return func(t testing.TB) slots.Store {
				t.Helper()
				s, err := Open(context.Background(), e.config())
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				t.Cleanup(func() { _ = s.Close() })
				return s
			}
		},
	})
}

// suiteUsers adds to the fixture's users 1–40 the others the suite acts
// as, up to 309.
const suiteUsers = `INSERT INTO Utente (nome, cognome, email, password, ruolo)
	SELECT 'U', 'N' || g, 'u' || g || '@example.com', 'x', 'cliente' FROM generate_series(41, 309) g`

// conformanceSeed gives the fixture's backend the suite's users and the
// catalog's shape it uses (spazi 1–4 in Centro, 5–8 in Navigli), the way
// the backend's own admin pages would add them.
const conformanceSeed = suiteUsers + `;
DELETE FROM Spazio;
INSERT INTO Spazio (id_spazio, id_sede, nome, tipologia, capienza) VALUES
	(1, 1, 'Stanza A', 'stanza privata', 4),
	(2, 1, 'Postazione 1', 'postazione', 1),
	(3, 1, 'Sala B', 'sala riunioni', 10),
	(4, 1, 'Postazione 2', 'postazione', NULL),
	(5, 2, 'Stanza C', 'stanza privata', 6),
	(6, 2, 'Postazione 3', 'postazione', 1),
	(7, 2, 'Sala D', 'sala riunioni', 12),
	(8, 2, 'Postazione 4', 'postazione', 1)`

// conformanceCatalog is what Catalog reads after conformanceSeed: the
// backend's fixed 09:00–18:00 day, no zone, a NULL capienza as 0.
func conformanceCatalog() []slots.Sede {
	sede := func(id int64, nome string, spazi ...slots.Spazio) slots.Sede {
		return slots.Sede{ID: id, Nome: nome, Citta: "Milano", Apertura: "09:00", Chiusura: "18:00", Spazi: spazi}
	}
	sp := func(id, sede int64, nome, tipo string, capienza int) slots.Spazio {
		return slots.Spazio{ID: id, SedeID: sede, Nome: nome, Tipologia: tipo, Capacita: capienza}
	}
	return []slots.Sede{
		sede(1, "Centro", sp(1, 1, "Stanza A", "stanza privata", 4), sp(2, 1, "Postazione 1", "postazione", 1),
			sp(3, 1, "Sala B", "sala riunioni", 10), sp(4, 1, "Postazione 2", "postazione", 0)),
		sede(2, "Navigli", sp(5, 2, "Stanza C", "stanza privata", 6), sp(6, 2, "Postazione 3", "postazione", 1),
			sp(7, 2, "Sala D", "sala riunioni", 12), sp(8, 2, "Postazione 4", "postazione", 1)),
	}
}
