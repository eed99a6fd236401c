-- The coworking backend's tables as its database ends up after its schema
-- and later migration files (elteo003/coworking-Mio at 648f2ba): the
-- tables, columns and CHECK constraints coworkctl reads and writes, written
-- for these tests. Loaded into a scratch schema through search_path.

CREATE TABLE Utente (
    id_utente SERIAL PRIMARY KEY,
    nome TEXT NOT NULL,
    cognome TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    password TEXT NOT NULL,
    ruolo TEXT NOT NULL CHECK (ruolo IN ('cliente', 'gestore', 'amministratore')),
    telefono TEXT,
    stripe_customer_id TEXT UNIQUE
);

CREATE TABLE Sede (
    id_sede SERIAL PRIMARY KEY,
    nome TEXT NOT NULL,
    citta TEXT NOT NULL,
    indirizzo TEXT NOT NULL,
    descrizione TEXT,
    id_gestore INTEGER REFERENCES Utente (id_utente)
);

CREATE TABLE Spazio (
    id_spazio SERIAL PRIMARY KEY,
    id_sede INTEGER NOT NULL REFERENCES Sede (id_sede),
    nome TEXT NOT NULL,
    tipologia TEXT NOT NULL CHECK (tipologia IN ('stanza privata', 'postazione', 'sala riunioni')),
    descrizione TEXT,
    capienza INTEGER,
    -- added by the slot-locking migration
    stato TEXT DEFAULT 'disponibile',
    ultima_prenotazione TIMESTAMP,
    utente_prenotazione INTEGER REFERENCES Utente (id_utente),
    CONSTRAINT check_stato_spazio CHECK (stato IN ('disponibile', 'in_prenotazione', 'occupato', 'manutenzione'))
);

CREATE TABLE Prenotazione (
    id_prenotazione SERIAL PRIMARY KEY,
    id_utente INTEGER NOT NULL REFERENCES Utente (id_utente),
    id_spazio INTEGER NOT NULL REFERENCES Spazio (id_spazio),
    data_inizio TIMESTAMP NOT NULL,
    data_fine TIMESTAMP NOT NULL,
    stato TEXT NOT NULL,
    data_creazione TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    data_modifica TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    -- later columns: the hold's deadline, the booking flow's hours, payment
    scadenza_slot TIMESTAMP,
    durata_ore INTEGER,
    data_pagamento TIMESTAMP,
    CONSTRAINT prenotazione_stato_check CHECK (stato IN ('pendente', 'in attesa', 'confermata', 'annullata',
        'completata', 'pagamento_fallito', 'scaduta', 'cancellata'))
);

CREATE INDEX idx_prenotazione_scadenza_slot ON Prenotazione (scadenza_slot) WHERE stato IN ('in attesa', 'pendente');
CREATE INDEX idx_prenotazione_stato ON Prenotazione (stato);
CREATE INDEX idx_prenotazione_data_pagamento ON Prenotazione (data_pagamento);

INSERT INTO Utente (nome, cognome, email, password, ruolo) VALUES
    ('Anna', 'Rossi', 'anna@example.com', 'x', 'cliente'),
    ('Bruno', 'Bianchi', 'bruno@example.com', 'x', 'cliente'),
    ('Carla', 'Verdi', 'carla@example.com', 'x', 'gestore');
-- users 4..40 for races and load
INSERT INTO Utente (nome, cognome, email, password, ruolo)
    SELECT 'U', 'N' || g, 'u' || g || '@example.com', 'x', 'cliente' FROM generate_series(4, 40) g;

INSERT INTO Sede (nome, citta, indirizzo, id_gestore) VALUES
    ('Centro', 'Milano', 'Via Roma 1', 3),
    ('Navigli', 'Milano', 'Alzaia 2', 3);

INSERT INTO Spazio (id_sede, nome, tipologia, capienza) VALUES
    (1, 'Stanza A', 'stanza privata', 4),
    (1, 'Postazione 1', 'postazione', 1),
    (2, 'Sala B', 'sala riunioni', 10);
