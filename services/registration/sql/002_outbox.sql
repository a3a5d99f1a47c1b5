-- 002_outbox.sql - the registration service's transactional outbox (see
-- common/sp_outbox.h and docs/events.md): every change writes its event
-- into registration.outbox in the same transaction; the relay assigns the
-- per-stream sequence numbers and publishes the rows in that order.
--
-- Row-level security: the service inserts events only for the tenant its
-- transaction set (samspil.tenant), like every tenant-owned table.  It may
-- not read them back: only the relay and the replay service read and
-- sequence rows, across tenants, by setting samspil.relay = 'on' for their
-- transaction.  (No DELETE grant: events are the record.)
--
-- The pb_* and *_event functions encode protobuf for the events whose
-- facts are in the stored rows rather than in the request (updates,
-- membership.added with the actor's kind): the service packs the event's
-- header (tenant, type, entity id, time) and the statement appends the
-- payload field from the row it changed, in the same transaction.  The
-- enum numbers below are those of proto/samspil/v1/registration.proto.

CREATE TABLE registration.outbox (
    id         bigserial PRIMARY KEY,
    tenant_id  text NOT NULL,
    event_type text NOT NULL,
    entity_id  text NOT NULL,
    payload    bytea NOT NULL,
    seq        bigint UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_unassigned ON registration.outbox (id) WHERE seq IS NULL;

CREATE TABLE registration.outbox_stream (
    stream        text PRIMARY KEY,
    assigned_seq  bigint NOT NULL DEFAULT 0,
    published_seq bigint NOT NULL DEFAULT 0
);
INSERT INTO registration.outbox_stream (stream) VALUES ('registration');

ALTER TABLE registration.outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE registration.outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY outbox_insert ON registration.outbox FOR INSERT
    WITH CHECK (tenant_id = NULLIF(current_setting('samspil.tenant', true), ''));
CREATE POLICY outbox_relay_select ON registration.outbox FOR SELECT
    USING (current_setting('samspil.relay', true) = 'on');
CREATE POLICY outbox_relay_update ON registration.outbox FOR UPDATE
    USING (current_setting('samspil.relay', true) = 'on')
    WITH CHECK (current_setting('samspil.relay', true) = 'on');

GRANT SELECT, INSERT, UPDATE ON registration.outbox, registration.outbox_stream
    TO samspil_registration;
GRANT USAGE, SELECT ON SEQUENCE registration.outbox_id_seq TO samspil_registration;

-- ------------------------------------------------------------- protobuf encoding

-- base-128 varint of a value >= 0
CREATE FUNCTION registration.pb_varint(v bigint) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    out bytea := ''::bytea;
BEGIN
    IF v < 0 THEN
        RAISE EXCEPTION 'pb_varint of a negative value';
    END IF;
    WHILE v >= 128 LOOP
        out := out || set_byte('\x00'::bytea, 0, ((v & 127) | 128)::int);
        v := v >> 7;
    END LOOP;
    RETURN out || set_byte('\x00'::bytea, 0, v::int);
END
$$;

-- a length-delimited field (always written: a oneof member must be present)
CREATE FUNCTION registration.pb_bytes(field int, b bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT registration.pb_varint(field * 8 + 2) || registration.pb_varint(length(b)) || b
$$;

-- a string field; nothing for NULL or '' (proto3 default)
CREATE FUNCTION registration.pb_text(field int, s text) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN s IS NULL OR s = '' THEN ''::bytea
                ELSE registration.pb_bytes(field, convert_to(s, 'UTF8')) END
$$;

-- an enum field from its stored word, numbered by position in `words`
-- (word n is enum value n); nothing for NULL or an unknown word
CREATE FUNCTION registration.pb_enum(field int, word text, words text[]) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(registration.pb_varint(field * 8)
                    || registration.pb_varint(array_position(words, word)), ''::bytea)
$$;

-- a packed repeated enum field from stored words
CREATE FUNCTION registration.pb_enums(field int, vals text[], words text[]) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN length(p) = 0 THEN ''::bytea
                ELSE registration.pb_bytes(field, p) END
      FROM (SELECT COALESCE(string_agg(registration.pb_varint(array_position(words, w)), ''::bytea
                                       ORDER BY n), ''::bytea) AS p
              FROM unnest(vals) WITH ORDINALITY AS v(w, n)
             WHERE array_position(words, w) IS NOT NULL) AS packed
$$;

-- the payload fields of samspil.v1.Event (10 tenant_event .. 15 consent),
-- with only the non-sensitive facts
CREATE FUNCTION registration.partnership_event(status text) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT registration.pb_bytes(11, registration.pb_enum(1, status,
        ARRAY['forming', 'active', 'paused', 'ended']))
$$;

CREATE FUNCTION registration.actor_event(kind text, organisation_id uuid, sector text)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT registration.pb_bytes(12,
        registration.pb_enum(1, kind, ARRAY['citizen', 'professional', 'organisation'])
        || registration.pb_text(2, organisation_id::text)
        || registration.pb_enum(3, sector,
               ARRAY['public', 'private', 'civil_society', 'research', 'other']))
$$;

CREATE FUNCTION registration.membership_event(partnership_id uuid, actor_id uuid, roles text[],
                                              knowledge_basis text, actor_kind text)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT registration.pb_bytes(13,
        registration.pb_text(1, partnership_id::text)
        || registration.pb_text(2, actor_id::text)
        || registration.pb_enums(3, roles,
               ARRAY['initiator', 'recipient', 'friend', 'volunteer', 'passive', 'active',
                     'needs_support', 'facilitator'])
        || registration.pb_enum(4, knowledge_basis,
               ARRAY['experiential', 'professional', 'both'])
        || registration.pb_enum(5, actor_kind, ARRAY['citizen', 'professional', 'organisation']))
$$;

CREATE FUNCTION registration.consent_event(actor_id uuid, purpose text) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT registration.pb_bytes(15,
        registration.pb_text(1, actor_id::text) || registration.pb_text(2, purpose))
$$;

REVOKE ALL ON FUNCTION registration.pb_varint(bigint), registration.pb_bytes(int, bytea),
    registration.pb_text(int, text), registration.pb_enum(int, text, text[]),
    registration.pb_enums(int, text[], text[]), registration.partnership_event(text),
    registration.actor_event(text, uuid, text),
    registration.membership_event(uuid, uuid, text[], text, text),
    registration.consent_event(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION registration.pb_varint(bigint), registration.pb_bytes(int, bytea),
    registration.pb_text(int, text), registration.pb_enum(int, text, text[]),
    registration.pb_enums(int, text[], text[]), registration.partnership_event(text),
    registration.actor_event(text, uuid, text),
    registration.membership_event(uuid, uuid, text[], text, text),
    registration.consent_event(uuid, text) TO samspil_registration;
