-- The last message a fifoEndpoint's receiver acknowledged, where its failing batch ends (so
-- every try carries the same messages), and its batch attempt log (each
-- attempt as JSON; the newest ATTEMPTS_KEPT per destination are kept, trimmed at each insert).
ALTER TABLE destinations ADD COLUMN last_acked TEXT COLLATE "C";
ALTER TABLE destinations ADD COLUMN batch_end TEXT;

CREATE TABLE destination_attempts (
    destination_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (destination_id, id)
);
