-- Svix's message features: raw payloads keep their content type; the requested delivery time is
-- remembered for MessageOut; tags get an index of their own, so filtering by a tag stays fast
-- with millions of messages.
ALTER TABLE messages ADD COLUMN content_type TEXT;
ALTER TABLE messages ADD COLUMN deliver_at BIGINT;

CREATE TABLE message_tags (
    app_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    msg_id TEXT NOT NULL,
    PRIMARY KEY (app_id, tag, msg_id)
);
INSERT INTO message_tags (app_id, tag, msg_id)
SELECT messages.app_id, tag.value, messages.id
FROM messages, jsonb_array_elements_text(messages.tags::jsonb) AS tag(value)
WHERE messages.tags IS NOT NULL
ON CONFLICT DO NOTHING;

-- Background tasks (Svix's `qtask_…`): replays and recoveries run in batches, resumable, leased
-- to one node at a time.
CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status BIGINT NOT NULL,
    params TEXT NOT NULL,
    data TEXT NOT NULL,
    position TEXT,
    lease_owner TEXT,
    lease_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX tasks_running ON tasks (status, lease_until);
