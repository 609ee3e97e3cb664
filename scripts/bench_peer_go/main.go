// Command bench_peer_go is the program a capable Go engineer would write in
// an afternoon instead of authbatch. It does authbatch's job on authbatch's
// database: claims due companies (pending -> in_flight, as authbatch does),
// sends each one POST /companyauth/miniappexchange with the same compact
// JSON body and the same signed headers, retries errors with backoff, and
// records every attempt (UPDATE companies + INSERT INTO attempts) from one
// writer goroutine that commits every 500 results.
//
// Used by scripts/bench_throughput.sh as the baseline of issue 12; not part
// of authbatch. Built with Debian's toolchain and packaged libraries:
//
//	cd scripts/bench_peer_go && GO111MODULE=off GOPATH=/usr/share/gocode go build
//
// usage: bench_peer_go -db FILE -base-url URL [-concurrency 64] ...
// env:   QYS_ACCESS_TOKEN, QYS_ACCESS_SECRET; SSL_CERT_FILE for a private CA
package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	_ "github.com/mattn/go-sqlite3"
)

const (
	apiPath     = "/companyauth/miniappexchange"
	commitEvery = 500                    // results per transaction
	commitAfter = 100 * time.Millisecond // ...or this long after the first
	claimMax    = 1024                   // companies claimed per transaction
	maxBody     = 1 << 20                // answers are tiny
	maxTicket   = 1023                   // authbatch keeps tickets up to 1 KiB
	maxMessage  = 511
)

// The statements are authbatch's (src/store_queue.c), so both programs
// leave the same database behind.
const (
	companyCols = `id, company_name, register_no, legal_person, applicant_name,
		applicant_contact, applicant_contact_type, callback_url, close_button,
		modify_fields, attempts`
	sqlRecover = `UPDATE companies SET status = 'pending', updated_at = ?1
		WHERE status = 'in_flight'`
	sqlClaimRetry = `UPDATE companies SET status = 'in_flight', claimed_by = ?3, updated_at = ?1
		WHERE id IN (SELECT id FROM companies WHERE status = 'retry_wait'
		             AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT ?2)
		RETURNING ` + companyCols
	sqlClaimPending = `UPDATE companies SET status = 'in_flight', claimed_by = ?3, updated_at = ?1
		WHERE id IN (SELECT id FROM companies WHERE status = 'pending' LIMIT ?2)
		RETURNING ` + companyCols
	sqlUpdate = `UPDATE companies SET status = ?2, attempts = ?3,
		next_attempt_at = ?4, ticket = coalesce(?5, ticket),
		ticket_at = coalesce(?6, ticket_at), last_http_status = ?7,
		last_code = ?8, last_message = ?9, claimed_by = NULL, updated_at = ?10,
		auth_next_check_at = CASE WHEN ?5 IS NULL THEN auth_next_check_at ELSE ?11 END,
		auth_checks = CASE WHEN ?5 IS NULL THEN auth_checks ELSE 0 END,
		auth_poll_fails = CASE WHEN ?5 IS NULL THEN auth_poll_fails ELSE 0 END
		WHERE id = ?1`
	sqlInsert = `INSERT INTO attempts (company_id, run_id, attempt_no,
		started_at, duration_ms, http_status, code, message, transport_error,
		outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)`
	sqlRelease = `UPDATE companies SET status = 'pending', claimed_by = NULL, updated_at = ?2
		WHERE id = ?1 AND status = 'in_flight'`
	sqlRunStart  = `INSERT INTO runs (started_at, pid, options) VALUES (?1, ?2, ?3)`
	sqlRunUpdate = `UPDATE runs SET attempts = ?2, issued = ?3,
		already_authed = ?4, failed = ?5, retried = ?6, throttled = ?7,
		transport_errors = ?8, ended_at = ?9, exit_status = ?10 WHERE id = ?1`
)

type company struct {
	id                                     int64
	name, registerNo, legalPerson, appName sql.NullString
	contact, contactType, callback, modify sql.NullString
	closeButton                            sql.NullInt64
	attempts                               int
}

// result is one attempt (or a release) for the writer.
type result struct {
	id                    int64
	release               bool // claimed, never sent: back to pending
	status                string
	attemptNo             int
	startedAt, durationMs int64
	nextAttemptAt         int64 // 0: NULL
	httpStatus            int   // 0: no HTTP answer (transport error)
	hasCode               bool
	code                  int64
	message, ticket       string
	outcome               string
}

type applicant struct {
	Name        string `json:"name,omitempty"`
	Contact     string `json:"contact,omitempty"`
	ContactType string `json:"contactType,omitempty"`
}

type request struct {
	CompanyName  string    `json:"companyName,omitempty"`
	Applicant    applicant `json:"applicant"`
	RegisterNo   string    `json:"registerNo,omitempty"`
	LegalPerson  string    `json:"legalPerson,omitempty"`
	CallbackURL  string    `json:"callbackUrl,omitempty"`
	CloseButton  *bool     `json:"closeButton,omitempty"`
	ModifyFields string    `json:"modifyFields,omitempty"`
}

type answer struct {
	Code         *int64  `json:"code"`
	ResponseCode *string `json:"responseCode"`
	Message      *string `json:"message"`
	Result       *struct {
		Ticket *string `json:"ticket"`
	} `json:"result"`
}

type counters struct {
	attempts, done, already, failed, retried, throttled, transport atomic.Int64
}

type peer struct {
	db                  *sql.DB
	client              *http.Client
	url, token, secret  string
	userAgent, version  string
	maxAttempts         int
	retryBase, retryMax time.Duration
	runID               int64
	n                   counters
	stop                context.Context // done: send nothing new
	halt                context.CancelFunc
	fatal               atomic.Value // string: why the API refused us
	rngMu               sync.Mutex
	rng                 *rand.Rand
}

func nowMs() int64 { return time.Now().UnixMilli() }

func main() {
	dbPath := flag.String("db", "", "authbatch database (schema from `authbatch init`)")
	baseURL := flag.String("base-url", "", "API base URL")
	conc := flag.Int("concurrency", 64, "requests in flight")
	version := flag.String("version", "0.1.0", "version sent in User-Agent and version headers")
	maxAttempts := flag.Int("max-attempts", 5, "attempts per company")
	retryBase := flag.Duration("retry-base", 500*time.Millisecond, "first backoff ceiling")
	retryMax := flag.Duration("retry-max", 60*time.Second, "backoff cap")
	timeout := flag.Duration("timeout", 30*time.Second, "per request")
	idlePerHost := flag.Int("idle-per-host", 0, "idle connections kept per host (default: -concurrency; 2 is net/http's default, to show the trap)")
	flag.Parse()
	if *dbPath == "" || *baseURL == "" || *conc < 1 {
		flag.Usage()
		os.Exit(64)
	}
	token, secret := os.Getenv("QYS_ACCESS_TOKEN"), os.Getenv("QYS_ACCESS_SECRET")
	if token == "" || secret == "" {
		fmt.Fprintln(os.Stderr, "bench_peer_go: QYS_ACCESS_TOKEN and QYS_ACCESS_SECRET must be set")
		os.Exit(64)
	}

	// WAL, synchronous=NORMAL, foreign keys and BEGIN IMMEDIATE, as
	// authbatch opens the file. One connection: the claimer and the writer
	// take turns, so there is never an SQLITE_BUSY between them.
	db, err := sql.Open("sqlite3", "file:"+*dbPath+
		"?_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1&_busy_timeout=5000&_txlock=immediate")
	check(err)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	defer db.Close()

	// DefaultTransport keeps 2 idle connections per host
	// (DefaultMaxIdleConnsPerHost): with 64 requests in flight the other 62
	// would be closed after every answer and dialled again, leaving
	// TIME_WAIT behind. Size the pool for the concurrency instead. The clone
	// keeps ForceAttemptHTTP2, so over TLS nginx's h2 is used, as curl does.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if *idlePerHost <= 0 {
		*idlePerHost = *conc
	}
	tr.MaxIdleConns = *conc
	tr.MaxIdleConnsPerHost = *idlePerHost
	tr.MaxConnsPerHost = *conc
	tr.IdleConnTimeout = 90 * time.Second

	stop, halt := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	p := &peer{
		db:          db,
		client:      &http.Client{Transport: tr, Timeout: *timeout},
		url:         strings.TrimRight(*baseURL, "/") + apiPath,
		token:       token,
		secret:      secret,
		userAgent:   "authbatch/" + *version,
		version:     "authbatch-" + *version,
		maxAttempts: *maxAttempts,
		retryBase:   *retryBase,
		retryMax:    *retryMax,
		stop:        stop,
		halt:        halt,
		rng:         rand.New(rand.NewSource(time.Now().UnixNano())),
	}
	t0 := time.Now()
	_, err = db.Exec(sqlRecover, nowMs())
	check(err)
	opts, _ := json.Marshal(map[string]any{"peer": "bench_peer_go", "base_url": *baseURL,
		"concurrency": *conc, "max_attempts": *maxAttempts})
	res, err := db.Exec(sqlRunStart, nowMs(), os.Getpid(), string(opts))
	check(err)
	p.runID, err = res.LastInsertId()
	check(err)

	jobs := make(chan company, *conc)
	results := make(chan result, 2*commitEvery)
	writerDone := make(chan error, 1)
	go p.writer(results, writerDone)

	var wg sync.WaitGroup
	for i := 0; i < *conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				p.process(c, results)
			}
		}()
	}
	claimErr := p.claimAll(jobs)
	close(jobs)
	wg.Wait()
	close(results)
	werr := <-writerDone

	status := 0
	if p.n.failed.Load() > 0 {
		status = 1
	}
	if f, _ := p.fatal.Load().(string); f != "" {
		fmt.Fprintln(os.Stderr, "bench_peer_go: the API refused the request:", f)
		status = 3
	}
	for _, e := range []error{claimErr, werr} {
		if e != nil {
			fmt.Fprintln(os.Stderr, "bench_peer_go:", e)
			status = 3
		}
	}
	if werr == nil {
		_, err = db.Exec(sqlRunUpdate, p.runID, p.n.attempts.Load(), p.n.done.Load(),
			p.n.already.Load(), p.n.failed.Load(), p.n.retried.Load(),
			p.n.throttled.Load(), p.n.transport.Load(), nowMs(), status)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench_peer_go:", err)
			status = 3
		}
	}
	fmt.Fprintf(os.Stderr, "bench_peer_go: %d attempts, %d done, %d already authenticated, %d failed in %.2f s\n",
		p.n.attempts.Load(), p.n.done.Load(), p.n.already.Load(), p.n.failed.Load(),
		time.Since(t0).Seconds())
	os.Exit(status)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench_peer_go:", err)
		os.Exit(3)
	}
}

// claimAll claims due companies (due retries first, then pending), claimMax
// per transaction, and hands them to the workers until none is left.
// Retries not yet due are left to the next run.
func (p *peer) claimAll(jobs chan<- company) error {
	for p.stop.Err() == nil {
		batch, err := p.claim()
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		for _, c := range batch {
			jobs <- c // workers that see the stop release what is left
		}
	}
	return nil
}

func (p *peer) claim() ([]company, error) {
	tx, err := p.db.Begin()
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	now := nowMs()
	var out []company
	for _, q := range []string{sqlClaimRetry, sqlClaimPending} {
		rows, err := tx.Query(q, now, claimMax-len(out), p.runID)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var c company
			if err := rows.Scan(&c.id, &c.name, &c.registerNo, &c.legalPerson,
				&c.appName, &c.contact, &c.contactType, &c.callback,
				&c.closeButton, &c.modify, &c.attempts); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, c)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if len(out) >= claimMax {
			break
		}
	}
	return out, tx.Commit()
}

// body is authbatch's request body: compact JSON, members in its order,
// UTF-8 raw (no HTML escaping), empty fields left out.
func body(c *company) ([]byte, bool) {
	for _, s := range []sql.NullString{c.name, c.registerNo, c.legalPerson,
		c.appName, c.contact, c.contactType, c.callback, c.modify} {
		if !utf8.ValidString(s.String) {
			return nil, false
		}
	}
	ct := c.contactType.String
	if ct != "MOBILE" && ct != "EMAIL" {
		ct = "MOBILE"
		if strings.Contains(c.contact.String, "@") {
			ct = "EMAIL"
		}
	}
	r := request{
		CompanyName:  c.name.String,
		Applicant:    applicant{Name: c.appName.String, Contact: c.contact.String, ContactType: ct},
		RegisterNo:   c.registerNo.String,
		LegalPerson:  c.legalPerson.String,
		CallbackURL:  c.callback.String,
		ModifyFields: c.modify.String,
	}
	if c.closeButton.Valid {
		b := c.closeButton.Int64 != 0
		r.CloseButton = &b
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&r); err != nil {
		return nil, false
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), true
}

// process sends one company until it has a final answer, retrying
// transient failures and throttling in place with full-jitter backoff (the
// company stays in_flight, claimed by this run, between attempts).
func (p *peer) process(c company, results chan<- result) {
	if p.stop.Err() != nil {
		results <- result{id: c.id, release: true}
		return
	}
	b, ok := body(&c)
	if !ok {
		p.n.failed.Add(1)
		results <- result{id: c.id, status: "failed", attemptNo: c.attempts + 1,
			startedAt: nowMs(), outcome: "rejected",
			message: "not sent: the company's fields are not valid UTF-8"}
		return
	}
	for {
		p.n.attempts.Add(1)
		if c.attempts > 0 {
			p.n.retried.Add(1)
		}
		r, retryAfter := p.attempt(&c, b)
		var delay time.Duration
		switch r.outcome {
		case "issued":
			r.status = "done"
			p.n.done.Add(1)
		case "already_authed":
			r.status = "already_authed"
			p.n.already.Add(1)
		case "rejected":
			r.status = "failed"
			p.n.failed.Add(1)
		case "fatal":
			// Not the company's fault: it stays pending, uncharged, and
			// the run stops.
			r.attemptNo = c.attempts
			r.status = "pending"
			p.fatal.CompareAndSwap(nil, fmt.Sprintf("HTTP %d, code %d, %s",
				r.httpStatus, r.code, r.message))
			p.halt()
		default: // throttled, transient
			limit := p.maxAttempts
			if r.outcome == "throttled" {
				p.n.throttled.Add(1)
				limit *= 10
			}
			if r.attemptNo >= limit {
				r.status = "failed"
				p.n.failed.Add(1)
				break
			}
			delay = p.backoff(r.attemptNo, retryAfter)
			r.status = "in_flight"
			r.nextAttemptAt = nowMs() + delay.Milliseconds()
		}
		if r.httpStatus == 0 {
			p.n.transport.Add(1)
		}
		results <- r
		if r.status != "in_flight" {
			return
		}
		c.attempts = r.attemptNo
		select {
		case <-time.After(delay):
		case <-p.stop.Done():
			results <- result{id: c.id, release: true}
			return
		}
	}
}

func (p *peer) backoff(attempts int, retryAfter time.Duration) time.Duration {
	shift := attempts - 1
	if shift > 30 {
		shift = 30
	}
	ceiling := p.retryBase << shift
	if ceiling > p.retryMax || ceiling <= 0 {
		ceiling = p.retryMax
	}
	p.rngMu.Lock()
	d := time.Duration(p.rng.Float64() * float64(ceiling))
	p.rngMu.Unlock()
	if d < retryAfter {
		d = retryAfter
	}
	return d
}

// attempt makes one signed request and classifies the answer as authbatch
// does (src/api.c ab_api_classify).
func (p *peer) attempt(c *company, b []byte) (result, time.Duration) {
	r := result{id: c.id, attemptNo: c.attempts + 1}
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	nonce := uuid.NewString()
	sum := md5.Sum([]byte(p.token + p.secret + ts + nonce))

	start := time.Now()
	r.startedAt = start.UnixMilli()
	req, err := http.NewRequest(http.MethodPost, p.url, bytes.NewReader(b))
	if err != nil {
		return p.transportError(r, start, err), 0
	}
	h := req.Header
	h.Set("User-Agent", p.userAgent)
	h.Set("Accept", "*/*")
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("x-qys-open-accesstoken", p.token)
	h.Set("x-qys-open-timestamp", ts)
	h.Set("x-qys-open-nonce", nonce)
	h.Set("x-qys-open-signature", hex.EncodeToString(sum[:]))
	h.Set("version", p.version)
	resp, err := p.client.Do(req)
	if err != nil {
		return p.transportError(r, start, err), 0
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	resp.Body.Close()
	if err == nil && len(data) > maxBody {
		err = errors.New("answer larger than 1 MiB")
	}
	if err != nil {
		return p.transportError(r, start, err), 0
	}
	r.durationMs = time.Since(start).Milliseconds()
	var retryAfter time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = time.Duration(s) * time.Second
	}
	classify(&r, resp.StatusCode, data)
	return r, retryAfter
}

func (p *peer) transportError(r result, start time.Time, err error) result {
	r.durationMs = time.Since(start).Milliseconds()
	r.outcome = "transient"
	r.message = clean(err.Error())
	return r
}

// clean keeps at most maxMessage bytes of s without splitting a UTF-8
// sequence, control characters turned into spaces.
func clean(s string) string {
	if len(s) > maxMessage {
		n := maxMessage
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

var responseCodes = map[string]int64{"00000000": 0, "21990001": 1001,
	"14990002": 1002, "11990005": 1005, "11990441": 441, "11990442": 442}

func classify(r *result, status int, data []byte) {
	r.httpStatus = status
	var a answer
	parsed := len(data) > 0 && json.Unmarshal(data, &a) == nil
	if parsed {
		if a.Code != nil {
			r.hasCode, r.code = true, *a.Code
		} else if a.ResponseCode != nil {
			r.hasCode = true
			if v, ok := responseCodes[*a.ResponseCode]; ok {
				r.code = v
			} else {
				r.code, _ = strconv.ParseInt(*a.ResponseCode, 10, 64)
			}
		}
		if a.Message != nil {
			r.message = clean(*a.Message)
		}
	}
	orMsg := func(m string) {
		if r.message == "" {
			r.message = m
		}
	}
	switch {
	case status == 429:
		r.outcome = "throttled"
		orMsg("HTTP 429 too many requests")
	case status >= 500:
		r.outcome = "transient"
		orMsg(fmt.Sprintf("HTTP %d", status))
	case (status >= 441 && status <= 449) || status == 401 || status == 403:
		r.outcome = "fatal"
		orMsg(fmt.Sprintf("HTTP %d", status))
	case status == 404 || status == 405:
		r.outcome = "fatal"
		r.message = fmt.Sprintf("HTTP %d: no such endpoint (check --base-url)", status)
	case r.hasCode:
		r.outcome = classOf(r.code)
		if r.code == 0 {
			var t *string
			if a.Result != nil {
				t = a.Result.Ticket
			}
			switch {
			case t != nil && len(*t) > 0 && len(*t) <= maxTicket && !strings.ContainsRune(*t, 0):
				r.ticket = *t
				r.outcome = "issued"
			case t != nil && len(*t) > maxTicket:
				r.outcome = "rejected"
				r.message = fmt.Sprintf("ticket of %d bytes, longer than authbatch keeps (%d)", len(*t), maxTicket)
			default:
				r.outcome = "transient"
				r.message = "code 0 without a usable ticket"
			}
		}
	case status == 408:
		r.outcome = "transient"
		r.message = "HTTP 408 request timeout"
	case status >= 200 && status < 300:
		r.outcome = "transient"
		if parsed {
			r.message = "answer without a code"
		} else {
			r.message = "unparsable answer body"
		}
	default:
		r.outcome = "rejected"
		r.message = fmt.Sprintf("HTTP %d without a JSON code", status)
	}
}

func classOf(code int64) string {
	switch code {
	case 1605:
		return "already_authed"
	case 11990006:
		return "throttled"
	case 1001:
		return "transient"
	case 1002, 1601, 441, 442, 443, 444, 445:
		return "fatal"
	}
	return "rejected"
}

// writer owns the recording: it commits every commitEvery results, or
// commitAfter after the first one waiting, in one transaction, and updates
// the run's counters with each commit (as authbatch's flush does).
func (p *peer) writer(results <-chan result, done chan<- error) {
	upd, err := p.db.Prepare(sqlUpdate)
	if err == nil {
		defer upd.Close()
	}
	ins, err2 := p.db.Prepare(sqlInsert)
	if err2 == nil {
		defer ins.Close()
	}
	rel, err3 := p.db.Prepare(sqlRelease)
	if err3 == nil {
		defer rel.Close()
	}
	for _, e := range []error{err2, err3} {
		if err == nil {
			err = e
		}
	}
	if err != nil {
		for range results {
		}
		done <- err
		return
	}
	batch := make([]result, 0, commitEvery)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var failed error
	flush := func() {
		if failed == nil && len(batch) > 0 {
			failed = p.commit(upd, ins, rel, batch)
		}
		batch = batch[:0]
	}
	for {
		select {
		case r, ok := <-results:
			if !ok {
				flush()
				done <- failed
				return
			}
			if len(batch) == 0 {
				timer.Reset(commitAfter)
			}
			batch = append(batch, r)
			if len(batch) >= commitEvery {
				if !timer.Stop() {
					<-timer.C
				}
				flush()
			}
		case <-timer.C:
			flush()
		}
		if failed != nil {
			// Nothing more can be trusted to be written: what is
			// in_flight in the file is asked again by the next run.
			p.halt()
		}
	}
}

func (p *peer) commit(upd, ins, rel *sql.Stmt, batch []result) error {
	tx, err := p.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	u, i, rl := tx.Stmt(upd), tx.Stmt(ins), tx.Stmt(rel)
	now := nowMs()
	for _, r := range batch {
		if r.release {
			if _, err := rl.Exec(r.id, now); err != nil {
				return err
			}
			continue
		}
		var next, ticket, ticketAt, firstCheck, httpStatus, code, msg, ansMsg, transport any
		if r.nextAttemptAt != 0 {
			next = r.nextAttemptAt
		}
		if r.outcome == "issued" {
			ticket, ticketAt = r.ticket, r.startedAt+r.durationMs
			// authbatch starts a ticket's tracking schedule: its first
			// status check two minutes after it was issued.
			firstCheck = r.startedAt + r.durationMs + 120000
		}
		if r.httpStatus != 0 {
			httpStatus = r.httpStatus
		}
		if r.hasCode {
			code = r.code
		}
		if r.message != "" {
			msg = r.message
		}
		if r.httpStatus != 0 {
			ansMsg = msg
		} else {
			transport = r.message
		}
		if _, err := u.Exec(r.id, r.status, r.attemptNo, next, ticket, ticketAt,
			httpStatus, code, msg, now, firstCheck); err != nil {
			return err
		}
		if _, err := i.Exec(r.id, p.runID, r.attemptNo, r.startedAt, r.durationMs,
			httpStatus, code, ansMsg, transport, r.outcome); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(sqlRunUpdate, p.runID, p.n.attempts.Load(), p.n.done.Load(),
		p.n.already.Load(), p.n.failed.Load(), p.n.retried.Load(),
		p.n.throttled.Load(), p.n.transport.Load(), nil, nil); err != nil {
		return err
	}
	return tx.Commit()
}
