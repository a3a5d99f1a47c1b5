-- 001_init.sql - the registration schema: the tenant directory, and per
-- tenant the partnerships, actors, memberships, relations and consent
-- records.  Run as the owner (samspil_owner) by `samspil-registration
-- --migrate`; the service itself logs in as samspil_registration.
--
-- Tenant isolation: every tenant-owned table carries tenant_id, has ENABLE
-- and FORCE ROW LEVEL SECURITY and one policy comparing tenant_id with the
-- transaction's samspil.tenant setting (no setting: no rows, and every
-- insert fails the WITH CHECK).  Every unique key and every reference
-- between tenant tables includes tenant_id, so nothing can point across
-- tenants and no duplicate-key error reveals another tenant's data.
--
-- Constraint and index names are part of the service: it maps a violated
-- constraint to the request field at fault (registration_errors.c).
--
-- Why tenant_id has no foreign key to registration.tenants: a tenant's
-- rows can only be written in a transaction whose samspil.tenant setting
-- was set from that tenant's row in the directory (the service's first
-- statement is SELECT set_config(...) FROM registration.tenants WHERE code
-- = $1), and the policies' WITH CHECK compares every new row with that
-- setting; tenants are never deleted (no DELETE grant).  A foreign key
-- would add nothing to that, but would take a KEY SHARE lock on the one
-- tenant row for every insert: with many concurrent writers of one
-- municipality that becomes a MultiXact per insert, which cost a large
-- share of the insert rate in our measurements.
--
-- Ids are UUIDv7 (time-ordered, made by the service), so primary-key
-- inserts land at the index's right edge.  Lists page by id (keyset)
-- within a tenant, using the primary key; the actor kind and interest
-- filters are applied while scanning it (a GIN index on interests cost a
-- large share of the insert rate for little gain at the size of one
-- municipality's register).

CREATE SCHEMA IF NOT EXISTS registration;

-- ------------------------------------------------------------- tenants
-- The directory of municipalities served.  Not tenant-owned (no RLS): the
-- service reads it to check that a tenant exists before acting on it.
CREATE TABLE registration.tenants (
    code       text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenants_code_format CHECK (code ~ '^[0-9]{3}$'),
    CONSTRAINT tenants_name_length CHECK (char_length(name) BETWEEN 1 AND 200)
);

-- ------------------------------------------------------------- actors
CREATE TABLE registration.actors (
    tenant_id           text NOT NULL,
    id                  uuid NOT NULL DEFAULT gen_random_uuid(),
    kind                text NOT NULL,
    name                text NOT NULL,
    organisation_id     uuid,
    -- 'organisation' whenever organisation_id is set, so the reference
    -- below can only point at an actor of that kind
    organisation_kind   text GENERATED ALWAYS AS
                        (CASE WHEN organisation_id IS NOT NULL THEN 'organisation' END) STORED,
    sector              text,
    interests           text[] NOT NULL DEFAULT '{}',
    preferred_language  text,
    accessibility_needs text[] NOT NULL DEFAULT '{}',
    -- restricted: [{"kind": "email"|"phone"|"postal", "value": "...", "preferred": bool}]
    contact_points      jsonb NOT NULL DEFAULT '[]',
    vulnerable          boolean NOT NULL DEFAULT false, -- restricted (GDPR art. 9)
    external_ref        text,
    idempotency_key     text,
    request_hash        bytea,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT actors_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT actors_kind_key UNIQUE (tenant_id, id, kind),
    CONSTRAINT actors_organisation_fk FOREIGN KEY (tenant_id, organisation_id, organisation_kind)
        REFERENCES registration.actors (tenant_id, id, kind),
    CONSTRAINT actors_kind_check CHECK (kind IN ('citizen', 'professional', 'organisation')),
    CONSTRAINT actors_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
    CONSTRAINT actors_organisation_only_professionals
        CHECK (organisation_id IS NULL OR kind = 'professional'),
    CONSTRAINT actors_sector_only_organisations
        CHECK ((kind = 'organisation') = (sector IS NOT NULL)),
    CONSTRAINT actors_sector_check
        CHECK (sector IN ('public', 'private', 'civil_society', 'research', 'other')),
    CONSTRAINT actors_vulnerable_only_citizens CHECK (NOT vulnerable OR kind = 'citizen'),
    CONSTRAINT actors_language_format
        CHECK (preferred_language ~ '^[a-z]{2,3}(-[a-z0-9]{2,8})*$'),
    CONSTRAINT actors_contact_points_array CHECK (jsonb_typeof(contact_points) = 'array'),
    CONSTRAINT actors_external_ref_format CHECK (external_ref ~ '^[a-z0-9_.-]{1,40}:[!-~]{1,100}$'),
    CONSTRAINT actors_idempotency_key_length CHECK (char_length(idempotency_key) BETWEEN 1 AND 100)
);
CREATE UNIQUE INDEX actors_external_ref_key ON registration.actors (tenant_id, external_ref)
    WHERE external_ref IS NOT NULL;
CREATE UNIQUE INDEX actors_idempotency_key_key ON registration.actors (tenant_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- ------------------------------------------------------------- partnerships
CREATE TABLE registration.partnerships (
    tenant_id                text NOT NULL,
    id                       uuid NOT NULL DEFAULT gen_random_uuid(),
    name                     text NOT NULL,
    purpose                  text NOT NULL DEFAULT '',
    burning_platform         text NOT NULL DEFAULT '',
    status                   text NOT NULL DEFAULT 'forming',
    backbone_organisation_id uuid,
    backbone_kind            text GENERATED ALWAYS AS
                             (CASE WHEN backbone_organisation_id IS NOT NULL
                                   THEN 'organisation' END) STORED,
    external_ref             text,
    idempotency_key          text,
    request_hash             bytea,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT partnerships_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT partnerships_backbone_fk
        FOREIGN KEY (tenant_id, backbone_organisation_id, backbone_kind)
        REFERENCES registration.actors (tenant_id, id, kind),
    CONSTRAINT partnerships_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
    CONSTRAINT partnerships_purpose_length CHECK (char_length(purpose) <= 4000),
    CONSTRAINT partnerships_burning_platform_length CHECK (char_length(burning_platform) <= 4000),
    CONSTRAINT partnerships_status_check
        CHECK (status IN ('forming', 'active', 'paused', 'ended')),
    CONSTRAINT partnerships_external_ref_format
        CHECK (external_ref ~ '^[a-z0-9_.-]{1,40}:[!-~]{1,100}$'),
    CONSTRAINT partnerships_idempotency_key_length
        CHECK (char_length(idempotency_key) BETWEEN 1 AND 100)
);
CREATE UNIQUE INDEX partnerships_external_ref_key
    ON registration.partnerships (tenant_id, external_ref) WHERE external_ref IS NOT NULL;
CREATE UNIQUE INDEX partnerships_idempotency_key_key
    ON registration.partnerships (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX partnerships_status_idx ON registration.partnerships (tenant_id, status, id);
CREATE INDEX partnerships_backbone_idx ON registration.partnerships (tenant_id, backbone_organisation_id)
    WHERE backbone_organisation_id IS NOT NULL;

-- ------------------------------------------------------------- memberships
CREATE TABLE registration.memberships (
    tenant_id       text NOT NULL,
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    partnership_id  uuid NOT NULL,
    actor_id        uuid NOT NULL,
    roles           text[] NOT NULL,
    knowledge_basis text NOT NULL,
    joined_on       date NOT NULL DEFAULT (now() AT TIME ZONE 'Europe/Copenhagen')::date,
    ended_on        date,
    idempotency_key text,
    request_hash    bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT memberships_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT memberships_partnership_fk FOREIGN KEY (tenant_id, partnership_id)
        REFERENCES registration.partnerships (tenant_id, id),
    CONSTRAINT memberships_actor_fk FOREIGN KEY (tenant_id, actor_id)
        REFERENCES registration.actors (tenant_id, id),
    CONSTRAINT memberships_roles_check CHECK (
        cardinality(roles) BETWEEN 1 AND 8
        AND roles <@ ARRAY['initiator', 'recipient', 'friend', 'volunteer', 'passive', 'active',
                           'needs_support', 'facilitator']::text[]),
    CONSTRAINT memberships_knowledge_basis_check
        CHECK (knowledge_basis IN ('experiential', 'professional', 'both')),
    CONSTRAINT memberships_ended_after_joined CHECK (ended_on IS NULL OR ended_on >= joined_on),
    CONSTRAINT memberships_idempotency_key_length
        CHECK (char_length(idempotency_key) BETWEEN 1 AND 100)
);
-- an actor is a member of a partnership once at a time
CREATE UNIQUE INDEX memberships_active_key
    ON registration.memberships (tenant_id, partnership_id, actor_id) WHERE ended_on IS NULL;
CREATE UNIQUE INDEX memberships_idempotency_key_key
    ON registration.memberships (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX memberships_partnership_idx ON registration.memberships (tenant_id, partnership_id, id);
CREATE INDEX memberships_actor_idx ON registration.memberships (tenant_id, actor_id, id);

-- ------------------------------------------------------------- relations
CREATE TABLE registration.relations (
    tenant_id       text NOT NULL,
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    from_actor_id   uuid NOT NULL,
    to_actor_id     uuid NOT NULL,
    kind            text NOT NULL,
    partnership_id  uuid,
    idempotency_key text,
    request_hash    bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT relations_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT relations_from_fk FOREIGN KEY (tenant_id, from_actor_id)
        REFERENCES registration.actors (tenant_id, id),
    CONSTRAINT relations_to_fk FOREIGN KEY (tenant_id, to_actor_id)
        REFERENCES registration.actors (tenant_id, id),
    CONSTRAINT relations_partnership_fk FOREIGN KEY (tenant_id, partnership_id)
        REFERENCES registration.partnerships (tenant_id, id),
    CONSTRAINT relations_not_self CHECK (from_actor_id <> to_actor_id),
    CONSTRAINT relations_kind_check CHECK (kind IN ('knows', 'trusts', 'collaborates', 'supports')),
    CONSTRAINT relations_idempotency_key_length
        CHECK (char_length(idempotency_key) BETWEEN 1 AND 100),
    -- one tie of a kind between two actors per partnership (or outside any)
    CONSTRAINT relations_tie_key UNIQUE NULLS NOT DISTINCT
        (tenant_id, from_actor_id, to_actor_id, kind, partnership_id)
);
CREATE UNIQUE INDEX relations_idempotency_key_key
    ON registration.relations (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX relations_from_idx ON registration.relations (tenant_id, from_actor_id);
CREATE INDEX relations_to_idx ON registration.relations (tenant_id, to_actor_id);
CREATE INDEX relations_partnership_idx ON registration.relations (tenant_id, partnership_id, id)
    WHERE partnership_id IS NOT NULL;

-- ------------------------------------------------------------- consents
-- Proof of consent (Datatilsynet): subject, purpose, text version, channel,
-- when given and when withdrawn.  Withdrawal is recorded, never deleted.
CREATE TABLE registration.consents (
    tenant_id       text NOT NULL,
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    actor_id        uuid NOT NULL,
    purpose         text NOT NULL,
    channel         text NOT NULL,
    text_version    text NOT NULL,
    given_at        timestamptz NOT NULL DEFAULT now(),
    withdrawn_at    timestamptz,
    idempotency_key text,
    request_hash    bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT consents_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT consents_actor_fk FOREIGN KEY (tenant_id, actor_id)
        REFERENCES registration.actors (tenant_id, id),
    CONSTRAINT consents_purpose_format CHECK (purpose ~ '^[a-z0-9_-]{1,40}$'),
    CONSTRAINT consents_channel_check
        CHECK (channel IN ('in_person', 'paper', 'web', 'email', 'sms', 'phone')),
    CONSTRAINT consents_text_version_length CHECK (char_length(text_version) BETWEEN 1 AND 100),
    CONSTRAINT consents_withdrawn_after_given CHECK (withdrawn_at IS NULL OR withdrawn_at >= given_at),
    CONSTRAINT consents_idempotency_key_length
        CHECK (char_length(idempotency_key) BETWEEN 1 AND 100)
);
CREATE UNIQUE INDEX consents_idempotency_key_key
    ON registration.consents (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX consents_actor_idx ON registration.consents (tenant_id, actor_id, id);

-- ------------------------------------------------------------- row-level security
DO $rls$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['actors', 'partnerships', 'memberships', 'relations', 'consents'] LOOP
        EXECUTE format('ALTER TABLE registration.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE registration.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON registration.%I '
            'USING (tenant_id = NULLIF(current_setting(''samspil.tenant'', true), '''')) '
            'WITH CHECK (tenant_id = NULLIF(current_setting(''samspil.tenant'', true), ''''))', t);
    END LOOP;
END
$rls$;

-- ------------------------------------------------------------- privileges
-- The service reads and writes; it never deletes or truncates.
REVOKE ALL ON SCHEMA registration FROM PUBLIC;
GRANT USAGE ON SCHEMA registration TO samspil_registration;
GRANT SELECT, INSERT ON registration.tenants TO samspil_registration;
GRANT SELECT, INSERT, UPDATE ON registration.actors, registration.partnerships,
    registration.memberships, registration.relations, registration.consents
    TO samspil_registration;
-- so a starting worker can check that its schema is up to date
GRANT SELECT ON registration.schema_migrations TO samspil_registration;
