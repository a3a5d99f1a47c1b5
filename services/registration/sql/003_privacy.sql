-- 003_privacy.sql - personal data at rest (issue 4): sealed contact
-- points, and erasure.  See docs/privacy.md.
--
-- contacts     an actor's contact points, packed and sealed by the service
--              under a data key held outside the database:
--              "v1.<key id>.<base64(nonce || ciphertext)>", bound to the
--              tenant and the actor's id.  NULL: none.
-- contacts_fp  a keyed hash of the same binding and content, so statements
--              can tell whether the contact points changed (every seal
--              differs) without the data key.  NULL exactly when contacts is.
-- erased_at    when the person was erased (GDPR art. 17): from then on the
--              row holds no personal field (actors_erased).
--
-- contact_points (jsonb, 001) held them in plain text; the service now
-- writes only '[]' there.  Rows written before this migration keep theirs
-- until `samspilctl key rotate-data` seals them.
--
-- External refs "cpr-hmac:<64 hex digits>" are keyed pseudonyms of CPR
-- numbers (the number itself is never stored); they fit the existing
-- format and unique index.

ALTER TABLE registration.actors
    ADD COLUMN contacts text,
    ADD COLUMN contacts_fp bytea,
    ADD COLUMN erased_at timestamptz,
    ADD CONSTRAINT actors_contacts_sealed
        CHECK (contacts ~ '^v1\.[1-9][0-9]{0,9}\.[A-Za-z0-9+/]+={0,2}$'),
    ADD CONSTRAINT actors_contacts_fp_present CHECK ((contacts IS NULL) = (contacts_fp IS NULL)),
    ADD CONSTRAINT actors_erased CHECK (
        erased_at IS NULL OR (
            name = 'erased' AND contacts IS NULL AND contacts_fp IS NULL
            AND contact_points = '[]'::jsonb AND external_ref IS NULL AND request_hash IS NULL
            AND interests = '{}'::text[] AND accessibility_needs = '{}'::text[]
            AND preferred_language IS NULL AND NOT vulnerable));

COMMENT ON COLUMN registration.actors.contacts IS
    'contact points, sealed by the service (docs/privacy.md); never plain text';
COMMENT ON COLUMN registration.actors.contact_points IS
    'plain-text contact points of rows written before 003; the service writes only []';
COMMENT ON COLUMN registration.actors.erased_at IS
    'GDPR erasure time; the row then holds no personal field (constraint actors_erased)';
