#!/usr/bin/env bash
# End-to-end `authbatch run`: rows another program inserts straight into
# `companies` skip the import, so run checks each claimed row by the
# import's rules before building its request.
#  - a bad row (contact 'abc', a wrong USCC check character) is failed with
#    the reason, never reaches the sandbox, and is charged no attempt;
#  - a good but unnormalised row (a name padded with U+3000/U+00A0,
#    '+86 138-0000-1111', a lower-case USCC, 'corpname , REGISTERNO') is sent
#    normalised: the sandbox refuses modifyFields that are not spelled
#    exactly, and its ledger shows the trimmed name;
#  - a bad row corrected in place is sent by the next run.
# stores: sqlite pg
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"

start_sandbox --token "$TOK" --secret "$SEC"
"$AB" init >/dev/null 2>&1
# U+3000 before the name and U+00A0 after it: the table's CHECK (trim())
# only knows ASCII spaces, so another program can store them.
padded=$(printf '\u3000直插规范化有限公司\u00a0')
q "INSERT INTO companies (company_name, applicant_contact) VALUES
     ('直插坏联系方式有限公司', 'abc');
   INSERT INTO companies (company_name, applicant_contact, register_no)
     VALUES ('直插坏代码有限公司', '13800002222', '91310000MA1FL4F903');
   INSERT INTO companies (company_name, applicant_contact, register_no,
       modify_fields, close_button)
     VALUES ('$padded', ' +86 138-0000-1111 ', '91310000ma1fl4f902',
             'corpname , REGISTERNO', 1);
   INSERT INTO companies (company_name, applicant_contact, applicant_contact_type)
     VALUES ('直插普通有限公司', 'li.si@example.com', 'EMAIL');"

run_ab r1 run --base-url "$URL" --rate 0 --progress none
eq "exit 1: companies failed in this run" "$RC" 1
eq "statuses" "$(counts)" "done=2 failed=2"
eq "only the two good rows reached the sandbox" "$(stat_of .requests)" 2
eq "both issued (normalised modifyFields accepted)" "$(stat_of .answers.issued)" 2
eq "nothing rejected by the sandbox" "$(stat_of .answers.rejected)" 0
ledger >ledger.json
eq "the ledger has the normalised name and never the bad rows" \
    "$(jq -r '[.tickets[].company] | sort | join(",")' ledger.json)" \
    "直插普通有限公司,直插规范化有限公司"
eq "the unnormalised row is done with its ticket" \
    "$(q "SELECT status, length(ticket) FROM companies WHERE company_name = '$padded'")" \
    "done|32"
eq "the bad contact: failed with the reason, no attempt charged" \
    "$(q "SELECT status, attempts, last_message,
          CAST(last_http_status IS NULL AS INTEGER),
          CAST(ticket IS NULL AS INTEGER) FROM companies WHERE company_name = '直插坏联系方式有限公司'")" \
    "failed|0|not sent: applicantContact 'abc' is not a mainland mobile number (11 digits starting 13-19, optionally +86)|1|1"
eq "the bad USCC: failed with the reason" \
    "$(q "SELECT status, attempts, last_message FROM companies
          WHERE company_name = '直插坏代码有限公司'")" \
    "failed|0|not sent: registerNo '91310000MA1FL4F903': wrong check character '3' (expected '2')"
check "the log names the company and the reason" \
    grep -q "not sent: applicantContact 'abc' is not a mainland mobile number" r1.err
eq "runs row: 2 requests, 2 failed" "$(q 'SELECT attempts, issued, failed FROM runs')" "2|2|2"

# Corrected in place by the other program: the next run sends it.
q "UPDATE companies SET applicant_contact = '139 0000 3333', status = 'pending'
   WHERE company_name = '直插坏联系方式有限公司'"
run_ab r2 run --base-url "$URL" --rate 0 --progress none
eq "corrected row: exit 0" "$RC" 0
eq "corrected row: sent once" "$(stat_of .requests)" 3
eq "corrected row: done after one attempt" \
    "$(q "SELECT status, attempts FROM companies WHERE company_name = '直插坏联系方式有限公司'")" \
    "done|1"
stop_sandbox TERM

finish
