-- 001: companies waiting for authentication, and rejected input rows.
-- The companies table is a public interface: other programs insert pending
-- rows (company_name and applicant_contact suffice) and read tickets.

CREATE TABLE companies (
    id                      INTEGER PRIMARY KEY,
    company_name            TEXT NOT NULL UNIQUE
                            CHECK (length(company_name) > 0
                                   AND company_name = trim(company_name)),
    register_no             TEXT,
    legal_person            TEXT,
    applicant_name          TEXT,
    applicant_contact       TEXT NOT NULL CHECK (length(applicant_contact) > 0),
    -- NULL means "infer": a contact with '@' is EMAIL, otherwise MOBILE.
    applicant_contact_type  TEXT CHECK (applicant_contact_type IN ('MOBILE', 'EMAIL')),
    callback_url            TEXT,
    close_button            INTEGER CHECK (close_button IN (0, 1)),
    modify_fields           TEXT,
    status                  TEXT NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'in_flight', 'retry_wait',
                                              'done', 'already_authed', 'failed')),
    attempts                INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at         INTEGER,
    ticket                  TEXT,
    ticket_at               INTEGER,
    last_http_status        INTEGER,
    last_code               INTEGER,
    last_message            TEXT,
    created_at              INTEGER NOT NULL
                            DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at              INTEGER NOT NULL
                            DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
);

-- Serves "what is due" (status = 'pending', or 'retry_wait' by time) and the
-- per-status counts of `status` (a covering scan, no table access).
CREATE INDEX companies_status_due ON companies (status, next_attempt_at);

CREATE TABLE rejected_rows (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    line        INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    raw         BLOB,
    created_at  INTEGER NOT NULL
);

CREATE INDEX rejected_rows_source ON rejected_rows (source, line);
