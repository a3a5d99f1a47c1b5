-- 004_outbox_vacuum.sql - keep the outbox's dead row versions few.
--
-- The relay numbers each event by updating its outbox row (seq), which
-- leaves one dead version of the row and one dead entry in the partial
-- index outbox_unassigned (seq IS NULL) per event.  The relay's next rounds
-- read that index from its start, so until a vacuum removes the dead
-- entries every round walks past them.  With the default thresholds (20 %
-- of the table) the outbox, which only grows, would be vacuumed ever more
-- rarely and the walk would grow with the table: vacuum it after a fixed
-- number of changed rows instead, whatever its size.  (Inserts trigger
-- vacuums too since PostgreSQL 13; those also set the visibility map the
-- replay's scans use.)
ALTER TABLE registration.outbox SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 20000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 50000,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 50000
);
