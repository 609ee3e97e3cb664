# shellcheck shell=bash
# Helpers for the tracking tests (tests/e2e/track_*.sh), after lib.sh.
# CMake skips this file (its name starts with lib).

# make_tricky_csv FILE N: N companies; every third name holds '&', '+', '='
# or runs of spaces (the characters a query string splits on or misreads),
# some with CJK.
make_tricky_csv() {
    awk -v n="$2" 'BEGIN {
        print "companyName,applicantName,applicantContact"
        split("A&B Trading|Plus+Minus Co|x=y Labs|Two  Spaces   Ltd|上海A&B+C (有限) 公司=x|Q&A=+ 100%", t, "|")
        for (i = 1; i <= n; i++) {
            if (i % 3 == 0) name = t[(i / 3) % 6 + 1] " " i
            else name = "Track Co " i
            printf "\"%s\",Applicant %d,138%08d\n", name, i, i
        }
    }' >"$1"
}

# settled: every applicant's story in the sandbox is over.
settled() { [[ "$(curl -sS "$URL/__truth" | jq -r .settled)" == true ]]; }

# truth_tsv FILE: "company<TAB>auth_status<TAB>requestId" from /__truth, in
# authbatch's terms (SPEC §6 mapping), sorted.
truth_tsv() {
    curl -sS "$URL/__truth" | jq -r '.companies[] | [.company,
        ({"-1": "not_started", "1": "not_started", "2": "authenticated",
          "3": "rejected", "4": "in_progress", "6": "expired"}[.status | tostring]),
        (if .status == -1 then "" else .requestId end)] | @tsv' | sort >"$1"
}

# stored_tsv FILE: the same from the database.
stored_tsv() {
    q -separator $'\t' "SELECT company_name, coalesce(auth_status, ''),
        coalesce(auth_request_id, '') FROM companies WHERE status = 'done'" |
        sort >"$1"
}
