-- A database with a known mix of outcomes, for the report, status, metrics
-- and retry tests (tests/test_report.c, tests/e2e/report_*.sh). Apply it to
-- a database created by `authbatch init`. Expected figures:
--   12 companies: done 3, already_authed 1, failed 3, retry_wait 2,
--   in_flight 1, pending 2.
--   error groups (not done/already_authed, with a code or message):
--     no code 2 (0 failed), 1005: 2 (2 failed), 11990011: 1 (1 failed).
--   attempts per company tried (10): p50 1, p90 3, p99 4, max 4.
--   attempt latency (15): p50 200, p90 15000, p99 45000, max 45000 ms.
--   runs: #1 exit 1, #2 exit 0 (last success, ended 1700003630000), #3
--   unfinished.
--   tickets all start with TKT-SECRET-.
INSERT INTO companies (id, company_name, register_no, applicant_contact,
    status, attempts, next_attempt_at, ticket, ticket_at, last_http_status,
    last_code, last_message, created_at, updated_at) VALUES
 (1, 'Acme Ltd', '91310000MA1FL0001X', '13800000001', 'done', 1, NULL,
  'TKT-SECRET-0001', 1700000001000, 200, 0, 'success', 1699990000000, 1700000001000),
 (2, 'Beta, "Quoted" Co', NULL, 'beta@example.com', 'done', 2, NULL,
  'TKT-SECRET-0002', 1700000002000, 200, 0, 'success', 1699990000000, 1700000002000),
 (3, '<script>alert(1)</script> Trading', '91310000MA1FL0003X', '13800000003',
  'failed', 1, NULL, NULL, NULL, 200, 1005, 'invalid param: registerNo',
  1699990000000, 1700000003000),
 (4, 'Lambda & Sons', NULL, '13800000004', 'done', 4, NULL,
  'TKT-SECRET-0004', 1700003601000, 200, 0, 'success', 1699990000000, 1700003601000),
 (5, '测试有限公司', '91310000MA1FL0005X', '13800000005', 'already_authed', 1,
  NULL, NULL, NULL, 200, 1605, '企业已认证', 1699990000000, 1700000005000),
 (6, 'Delta', NULL, '13800000006', 'failed', 1, NULL, NULL, NULL, 200, 1005,
  'invalid param: legalPerson' || char(13) || char(10) || 'second line',
  1699990000000, 1700000006000),
 (7, 'Epsilon', NULL, '13800000007', 'failed', 1, NULL, NULL, NULL, 200,
  11990011, 'length over limit', 1699990000000, 1700000007000),
 (8, 'Zeta', NULL, '13800000008', 'retry_wait', 2, 4102444800000, NULL, NULL,
  503, NULL, 'HTTP 503', 1699990000000, 1700000008000),
 (9, 'Eta', NULL, '13800000009', 'pending', 0, NULL, NULL, NULL, NULL, NULL,
  NULL, 1699990000000, 1699990000000),
 (10, 'Theta', NULL, '13800000010', 'in_flight', 1, NULL, NULL, NULL, NULL,
  NULL, NULL, 1699990000000, 1700007200100),
 (11, 'Iota', NULL, '13800000011', 'pending', 0, NULL, NULL, NULL, NULL, NULL,
  NULL, 1699990000000, 1699990000000),
 (12, 'Kappa', NULL, '13800000012', 'retry_wait', 3, 1000, NULL, NULL, NULL,
  NULL, 'connection refused', 1699990000000, 1700003610000);

INSERT INTO runs (id, started_at, ended_at, pid, attempts, issued,
    already_authed, failed, retried, throttled, transport_errors, exit_status)
VALUES
 (1, 1700000000000, 1700000060000, 4242, 9, 2, 1, 3, 2, 1, 1, 1),
 (2, 1700003600000, 1700003630000, 4243, 5, 1, 0, 0, 3, 0, 2, 0),
 (3, 1700007200000, NULL, 999999999, 0, 0, 0, 0, 0, 0, 0, NULL);

INSERT INTO attempts (company_id, run_id, attempt_no, started_at, duration_ms,
    http_status, code, message, transport_error, outcome) VALUES
 (1, 1, 1, 1700000001000, 120, 200, 0, 'success', NULL, 'issued'),
 (2, 1, 1, 1700000001500, 45000, NULL, NULL, NULL, 'timeout', 'transient'),
 (2, 1, 2, 1700000002000, 300, 200, 0, 'success', NULL, 'issued'),
 (3, 1, 1, 1700000003000, 60, 200, 1005, 'invalid param', NULL, 'rejected'),
 (5, 1, 1, 1700000005000, 30, 200, 1605, '企业已认证', NULL, 'already_authed'),
 (6, 1, 1, 1700000006000, 12, 200, 1005, 'invalid param', NULL, 'rejected'),
 (7, 1, 1, 1700000007000, 5, 200, 11990011, 'too long', NULL, 'rejected'),
 (8, 1, 1, 1700000008000, 700, 429, 11990006, 'throttled', NULL, 'throttled'),
 (12, 1, 1, 1700000009000, 1500, NULL, NULL, NULL, 'connection refused', 'transient'),
 (4, 2, 1, 1700003600100, 3000, 503, NULL, NULL, NULL, 'transient'),
 (4, 2, 2, 1700003600200, 7000, 503, NULL, NULL, NULL, 'transient'),
 (4, 2, 3, 1700003600300, 15000, 503, NULL, NULL, NULL, 'transient'),
 (4, 2, 4, 1700003601000, 100, 200, 0, 'success', NULL, 'issued'),
 (8, 2, 2, 1700003605000, 120, 503, NULL, NULL, NULL, 'transient'),
 (12, 2, 2, 1700003610000, 200, NULL, NULL, NULL, 'connection refused', 'transient');
