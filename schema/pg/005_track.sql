-- 005 (PostgreSQL): the poller (`authbatch track`, SPEC §6), as
-- schema/005_track.sql. ADD COLUMN and an UPDATE only: nothing is rebuilt,
-- so the triggers, indexes and views other systems keep on the public
-- companies table survive this migration.

-- Failed attempts at the poll that is due now (transport errors, 5xx,
-- throttling), for the retry policy: reset when a poll is answered or given
-- up, and by a new ticket. auth_next_check_at holds the retry's time.
ALTER TABLE companies ADD COLUMN auth_poll_fails integer NOT NULL DEFAULT 0;

-- Tickets issued before this version have no schedule yet: each one whose
-- outcome is not known to be final is due for a first check now.
UPDATE companies SET auth_next_check_at = coalesce(ticket_at, updated_at, 0)
 WHERE status = 'done' AND ticket IS NOT NULL AND auth_next_check_at IS NULL
   AND (auth_status IS NULL OR auth_status = 'not_started'
        OR auth_status = 'in_progress');
