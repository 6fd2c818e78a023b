-- Restore tests whose scratch target may still exist (the test started and
-- its deletion has not succeeded): 'LEFT', else NULL. A restart finds them
-- by this index and removes what they left.
ALTER TABLE restore_jobs ADD COLUMN scratch TEXT;
CREATE INDEX restore_jobs_by_scratch ON restore_jobs (scratch);
