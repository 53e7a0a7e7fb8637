package emulator

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// answer is what an operation decided; the wrapper may still replace it with
// a fault after the operation ran (commit500).
type answer struct {
	status int
	body   any
}

func errAnswer(status int, typ, msg string) answer {
	return answer{status, map[string]string{"type": typ, "message": msg}}
}

func badRequest(format string, args ...any) answer {
	return errAnswer(http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf(format, args...))
}

func notFound(format string, args ...any) answer {
	return errAnswer(http.StatusNotFound, "NOT_FOUND", fmt.Sprintf(format, args...))
}

// errorTypes are the Error object types for the statuses a fault can answer.
var errorTypes = map[int]string{
	400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
	409: "CONFLICT", 429: "TOO_MANY_REQUESTS", 500: "INTERNAL_SERVER_ERROR",
	502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT",
}

const (
	providersPath = "/v1/communications/serviceProviders"
	maxBodyBytes  = 1 << 20
	maxIDLen      = 255
	maxQueryIDs   = 30
	amazonIDType  = "communication-profile" // the only type the reference page describes
)

func (e *Emulator) routes() {
	m := http.NewServeMux()
	// Login with Amazon answers on both spellings; the vendor's SDKs use /auth/O2/token.
	m.HandleFunc("POST /auth/o2/token", e.token)
	m.HandleFunc("POST /auth/O2/token", e.token)
	m.HandleFunc("GET /_emulator/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, e.Stats())
	})
	m.HandleFunc("POST /_emulator/reset", func(w http.ResponseWriter, r *http.Request) {
		e.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	})
	api := func(pattern, op string, h func(*http.Request, []byte) answer, write bool) {
		m.HandleFunc(pattern, e.wrap(op, h, write))
	}
	api("POST "+providersPath, "provider.create", e.createProvider, true)
	api("GET "+providersPath+"/{id}", "provider.get", e.getProvider, false)
	api("PUT "+providersPath+"/{id}", "provider.update", e.updateProvider, true)
	api("DELETE "+providersPath+"/{id}", "provider.delete", e.deleteProvider, true)
	api("POST "+providersPath+"/{id}/network", "network.create", e.writeNetwork(http.StatusCreated), true)
	api("GET "+providersPath+"/{id}/network", "network.get", e.getNetwork, false)
	api("PUT "+providersPath+"/{id}/network", "network.update", e.writeNetwork(http.StatusOK), true)
	api("DELETE "+providersPath+"/{id}/network", "network.delete", e.deleteNetwork, true)
	api("POST "+providersPath+"/{id}/externalUsers", "association.create", e.createAssociation, true)
	api("PUT "+providersPath+"/{id}/externalUsers", "association.update", e.updateAssociation, true)
	api("DELETE "+providersPath+"/{id}/externalUsers", "association.delete", e.deleteAssociation, true)
	api("POST "+providersPath+"/{id}/externalUsers/query", "association.query", e.queryAssociations, false)
	e.ispRoutes(m)
	e.profileRoutes(api)
	m.HandleFunc("/", e.unrouted)
	e.mux = m
}

// unrouted answers a path no route takes: 404 in the error shape of its
// API, counted as "unrouted" so a test can check that none was sent.
func (e *Emulator) unrouted(w http.ResponseWriter, r *http.Request) {
	msg := "no such resource: " + r.Method + " " + r.URL.Path
	e.count("unrouted", http.StatusNotFound)
	if strings.HasPrefix(r.URL.Path, ispPath) || strings.HasPrefix(r.URL.Path, "/v1/skills/") {
		writeJSON(w, http.StatusNotFound, map[string]string{"code": "NOT_FOUND", "message": msg})
		return
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"type": "NOT_FOUND", "message": msg})
}

// isClean says whether ServeMux would take path as it is. It redirects any
// other path (an empty segment, a dot segment) to a cleaned one, which the
// API does not: DELETE /v1/inSkillProducts//skills/S must not become a
// redirect to another resource.
func isClean(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// wrap runs one API operation the way the service would: latency, bearer
// token, rate limit, then the operation, with faults on demand.
func (e *Emulator) wrap(op string, h func(*http.Request, []byte) answer, write bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		send := func(a answer, hdr http.Header) {
			if e.opts.EchoSecrets {
				a = echoAuthorization(a, r.Header.Get("Authorization"))
			}
			e.reply(w, op, a, hdr)
		}
		// The token and the rate limit are judged on arrival; the latency
		// delays the answer. A limit judged after a jittered delay would
		// see calls sent evenly arrive bunched, which no pacing can avoid.
		a, ok := e.authorize(r)
		var hdr http.Header
		if ok && e.lim != nil {
			if pass, wait := e.lim.take(e.opts.Now()); !pass {
				a, hdr = e.lim.refusal(wait)
				ok = false
			}
		}
		if e.opts.Latency > 0 {
			sleep(ctx, time.Duration(float64(e.opts.Latency)*(0.5+rand.Float64())))
		}
		if !ok {
			send(a, hdr)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
		if err != nil || len(body) > maxBodyBytes {
			send(badRequest("request body unreadable or larger than %d bytes", maxBodyBytes), nil)
			return
		}
		switch f := e.pickFault(e.faults); f {
		case "":
		case "reset":
			e.countLabel(op, "reset")
			resetConn(w)
			return
		case "garbage":
			e.count(op, http.StatusOK)
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "<html><body>upstream says hello</body></html>")
			return
		case "slow":
			sleep(ctx, e.opts.SlowDelay)
		case "commit500":
			a := e.run(h, r, body, write)
			if a.status >= 300 {
				send(a, nil)
				return
			}
			send(errAnswer(500, "INTERNAL_SERVER_ERROR", "internal error after commit"), nil)
			return
		default:
			st, _ := strconv.Atoi(f)
			var hdr http.Header
			if st == http.StatusTooManyRequests {
				hdr = http.Header{"Retry-After": {"1"}}
			}
			send(errAnswer(st, errorTypes[st], "injected fault"), hdr)
			return
		}
		send(e.run(h, r, body, write), nil)
	}
}

func (e *Emulator) run(h func(*http.Request, []byte) answer, r *http.Request, body []byte, write bool) answer {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := h(r, body)
	if write && a.status < 300 {
		e.dirty = true
	}
	return a
}

func (e *Emulator) reply(w http.ResponseWriter, op string, a answer, hdr http.Header) {
	e.count(op, a.status)
	for k, v := range hdr {
		w.Header()[k] = v
	}
	if h, ok := a.body.(interface{ headers() http.Header }); ok { // an ETag, say
		for k, v := range h.headers() {
			w.Header()[k] = v
		}
	}
	if a.body == nil {
		w.WriteHeader(a.status)
		return
	}
	writeJSON(w, a.status, a.body)
}

// resetConn drops the connection with a TCP reset: the client sees a broken
// connection, not an answer.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// echoAuthorization is an error answer whose message also repeats the
// request's Authorization header, as a server playing Options.EchoSecrets
// answers: both error shapes (Smart Properties' and the in-skill product
// APIs', violations included). The answer's own maps are not changed.
func echoAuthorization(a answer, auth string) answer {
	if a.status < 400 || auth == "" {
		return a
	}
	echo := func(msg string) string { return msg + " (request Authorization: " + auth + ")" }
	switch b := a.body.(type) {
	case map[string]string:
		c := maps.Clone(b)
		c["message"] = echo(c["message"])
		a.body = c
	case map[string]any:
		c := maps.Clone(b)
		if m, ok := c["message"].(string); ok {
			c["message"] = echo(m)
		}
		if vs, ok := c["violations"].([]map[string]string); ok {
			out := make([]map[string]string, 0, len(vs))
			for _, v := range vs {
				v = maps.Clone(v)
				v["message"] = echo(v["message"])
				out = append(out, v)
			}
			c["violations"] = out
		}
		a.body = c
	}
	return a
}

// echoForm is what a token endpoint playing Options.EchoSecrets says it was
// sent: the form as posted (percent-encoded) and decoded, and the
// Authorization header of a client that authenticates with Basic.
func echoForm(sent []byte, auth string) string {
	var b strings.Builder
	b.WriteString("the request was: ")
	b.Write(sent)
	vals, _ := url.ParseQuery(string(sent)) // what parses is echoed, the rest was above
	b.WriteString(" (")
	for i, k := range slices.Sorted(maps.Keys(vals)) {
		for j, v := range vals[k] {
			if i+j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k + "=" + v)
		}
	}
	b.WriteString(")")
	if auth != "" {
		b.WriteString(" Authorization: " + auth)
	}
	return b.String()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (e *Emulator) authorize(r *http.Request) (answer, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return errAnswer(http.StatusUnauthorized, "UNAUTHORIZED", "missing bearer token"), false
	}
	if e.opts.StaticToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(e.opts.StaticToken)) == 1 {
		return answer{}, true
	}
	e.mu.Lock()
	exp, known := e.tokens[tok]
	e.mu.Unlock()
	switch {
	case !known:
		return errAnswer(http.StatusUnauthorized, "UNAUTHORIZED", "the access token is not valid"), false
	case !e.opts.Now().Before(exp):
		return errAnswer(http.StatusUnauthorized, "UNAUTHORIZED", "the access token expired"), false
	}
	return answer{}, true
}

// token is Login with Amazon's refresh-token grant.
func (e *Emulator) token(w http.ResponseWriter, r *http.Request) {
	const op = "token"
	var sent []byte // the posted form, for Options.EchoSecrets
	if e.opts.EchoSecrets {
		sent, _ = io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
		r.Body = io.NopCloser(bytes.NewReader(sent))
	}
	oauthErr := func(status int, code, desc string) {
		if e.opts.EchoSecrets {
			desc += "; " + echoForm(sent, r.Header.Get("Authorization"))
		}
		e.count(op, status)
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	switch f := e.pickFault(e.tokenFaults); f {
	case "":
	case "reset":
		e.countLabel(op, "reset")
		resetConn(w)
		return
	case "slow":
		sleep(r.Context(), e.opts.SlowDelay)
	default:
		st, err := strconv.Atoi(f)
		if err != nil { // commit500, garbage: nothing to commit; a 500
			st = 500
		}
		oauthErr(st, "server_error", "injected fault")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(400, "invalid_request", "body is not form-encoded")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "refresh_token" {
		oauthErr(400, "unsupported_grant_type", "only grant_type=refresh_token is supported")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != e.opts.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(e.opts.ClientSecret)) != 1 {
		oauthErr(401, "invalid_client", "client authentication failed")
		return
	}
	rt := r.PostForm.Get("refresh_token")
	e.mu.Lock()
	if !e.refresh[rt] {
		e.mu.Unlock()
		oauthErr(400, "invalid_grant", "the refresh token is not valid")
		return
	}
	if e.opts.RotateRefreshTokens {
		delete(e.refresh, rt)
		rt = "Atzr|emu." + randHex(24)
		e.refresh[rt] = true
	}
	at := e.issueLocked()
	e.mu.Unlock()
	e.count(op, 200)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  at,
		"refresh_token": rt,
		"token_type":    "bearer",
		"expires_in":    int(e.opts.TokenTTL.Seconds()),
	})
}

// decode reads a JSON body strictly enough to refuse what the service would,
// saying what was wrong: a field of the wrong type is not "invalid JSON".
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Errorf("request body is required")
	}
	err := json.Unmarshal(body, v)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		return fmt.Errorf("%s must be %s, not %s", te.Field, jsonKind(te.Type), te.Value)
	}
	return fmt.Errorf("request body is not valid JSON: %v", err)
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Bool:
		return "a boolean"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a number"
}

func checkLen(field, v string) error {
	if v == "" {
		return fmt.Errorf("%s is required", field)
	}
	if len([]rune(v)) > maxIDLen {
		return fmt.Errorf("%s is longer than %d characters", field, maxIDLen)
	}
	return nil
}

func (e *Emulator) providerOf(r *http.Request) (*provider, answer, bool) {
	id := r.PathValue("id")
	p := e.state.Providers[id]
	if p == nil {
		return nil, notFound("service provider %s not found", id), false
	}
	return p, answer{}, true
}

// Service provider onboarding.

type providerBody struct {
	LogicalID   *string       `json:"serviceProviderLogicalId"`
	DisplayName []displayName `json:"displayName"`
}

func (e *Emulator) createProvider(r *http.Request, body []byte) answer {
	var b providerBody
	if err := decode(body, &b); err != nil {
		return badRequest("%v", err)
	}
	if b.LogicalID == nil {
		return badRequest("serviceProviderLogicalId is required")
	}
	if err := checkLen("serviceProviderLogicalId", *b.LogicalID); err != nil {
		return badRequest("%v", err)
	}
	if e.state.byLogicalID(*b.LogicalID) != nil {
		return errAnswer(http.StatusConflict, "CONFLICT", "serviceProviderLogicalId "+*b.LogicalID+" already exists")
	}
	p := &provider{
		ID:           "amzn1.comms.csp.id." + randHex(8),
		LogicalID:    *b.LogicalID,
		DisplayName:  b.DisplayName,
		Associations: map[string]*association{},
	}
	e.state.Providers[p.ID] = p
	return answer{http.StatusCreated, providerView(p)}
}

func providerView(p *provider) map[string]any {
	v := map[string]any{"serviceProviderId": p.ID, "serviceProviderLogicalId": p.LogicalID}
	if len(p.DisplayName) > 0 {
		v["displayName"] = p.DisplayName
	}
	return v
}

func (e *Emulator) getProvider(r *http.Request, _ []byte) answer {
	p, a, ok := e.providerOf(r)
	if !ok {
		return a
	}
	return answer{http.StatusOK, providerView(p)}
}

func (e *Emulator) updateProvider(r *http.Request, body []byte) answer {
	p, a, ok := e.providerOf(r)
	if !ok {
		return a
	}
	var b providerBody
	if err := decode(body, &b); err != nil {
		return badRequest("%v", err)
	}
	if b.LogicalID != nil && *b.LogicalID != p.LogicalID {
		return badRequest("serviceProviderLogicalId can't be changed")
	}
	if b.DisplayName != nil {
		p.DisplayName = b.DisplayName
	}
	return answer{http.StatusOK, providerView(p)}
}

func (e *Emulator) deleteProvider(r *http.Request, _ []byte) answer {
	p, a, ok := e.providerOf(r)
	if !ok {
		return a
	}
	delete(e.state.Providers, p.ID)
	return answer{status: http.StatusOK}
}

// Network mapping.

func (e *Emulator) writeNetwork(success int) func(*http.Request, []byte) answer {
	return func(r *http.Request, body []byte) answer {
		p, a, ok := e.providerOf(r)
		if !ok {
			return a
		}
		var n network
		if err := decode(body, &n); err != nil {
			return badRequest("%v", err)
		}
		if n.NetworkType != "SKILL" {
			return badRequest("networkType must be SKILL")
		}
		if err := checkLen("skillConfiguration.skillId", n.SkillConfiguration.SkillID); err != nil {
			return badRequest("%v", err)
		}
		switch {
		case success == http.StatusCreated && p.Network != nil:
			return badRequest("service provider %s already has a network mapping; update it instead", p.ID)
		case success == http.StatusOK && p.Network == nil:
			return notFound("service provider %s has no network mapping", p.ID)
		}
		p.Network = &n
		return answer{success, map[string]string{"serviceProviderId": p.ID, "status": "ACTIVE"}}
	}
}

func (e *Emulator) getNetwork(r *http.Request, _ []byte) answer {
	p, a, ok := e.providerOf(r)
	if !ok {
		return a
	}
	if p.Network == nil {
		return notFound("service provider %s has no network mapping", p.ID)
	}
	return answer{http.StatusOK, p.Network}
}

func (e *Emulator) deleteNetwork(r *http.Request, _ []byte) answer {
	p, a, ok := e.providerOf(r)
	if !ok {
		return a
	}
	if p.Network == nil {
		return notFound("service provider %s has no network mapping", p.ID)
	}
	p.Network = nil
	return answer{status: http.StatusOK}
}

// Account association.

func parseAssociation(body []byte, full bool) (association, answer, bool) {
	var a association
	if err := decode(body, &a); err != nil {
		return a, badRequest("%v", err), false
	}
	check := []struct{ field, v string }{{"externalUserId", a.ExternalUserID}}
	if full {
		check = append(check, struct{ field, v string }{"amazonId", a.AmazonID}, struct{ field, v string }{"amazonIdType", a.AmazonIDType})
	}
	for _, c := range check {
		if err := checkLen(c.field, c.v); err != nil {
			return a, badRequest("%v", err), false
		}
	}
	if full && a.AmazonIDType != amazonIDType {
		return a, badRequest("amazonIdType must be %s, not %q", amazonIDType, a.AmazonIDType), false
	}
	return a, answer{}, true
}

func (e *Emulator) createAssociation(r *http.Request, body []byte) answer {
	p, ans, ok := e.providerOf(r)
	if !ok {
		return ans
	}
	a, ans, ok := parseAssociation(body, true)
	if !ok {
		return ans
	}
	if p.Associations[a.ExternalUserID] != nil {
		return errAnswer(http.StatusConflict, "CONFLICT", "externalUserId "+a.ExternalUserID+" is already associated")
	}
	p.Associations[a.ExternalUserID] = &a
	p.sorted = nil
	return answer{status: http.StatusCreated}
}

func (e *Emulator) updateAssociation(r *http.Request, body []byte) answer {
	p, ans, ok := e.providerOf(r)
	if !ok {
		return ans
	}
	a, ans, ok := parseAssociation(body, true)
	if !ok {
		return ans
	}
	if p.Associations[a.ExternalUserID] == nil {
		return notFound("externalUserId %s has no association", a.ExternalUserID)
	}
	p.Associations[a.ExternalUserID] = &a
	return answer{status: http.StatusOK}
}

func (e *Emulator) deleteAssociation(r *http.Request, body []byte) answer {
	p, ans, ok := e.providerOf(r)
	if !ok {
		return ans
	}
	a, ans, ok := parseAssociation(body, false)
	if !ok {
		return ans
	}
	if p.Associations[a.ExternalUserID] == nil {
		return notFound("externalUserId %s has no association", a.ExternalUserID)
	}
	delete(p.Associations, a.ExternalUserID)
	p.sorted = nil
	return answer{status: http.StatusOK}
}

type queryBody struct {
	Filters *struct {
		ExternalUserIDs *[]string `json:"externalUserIds"`
	} `json:"filters"`
	PaginationContext *struct {
		NextToken  string `json:"nextToken"`
		MaxResults *int   `json:"maxResults"`
	} `json:"paginationContext"`
}

func (e *Emulator) queryAssociations(r *http.Request, body []byte) answer {
	p, ans, ok := e.providerOf(r)
	if !ok {
		return ans
	}
	var q queryBody
	if err := decode(body, &q); err != nil {
		return badRequest("%v", err)
	}
	if q.Filters == nil {
		return badRequest("filters is required")
	}
	limit, offset := e.opts.PageSize, 0
	var ids []string
	if q.Filters.ExternalUserIDs != nil {
		ids = *q.Filters.ExternalUserIDs
		if len(ids) == 0 || len(ids) > maxQueryIDs {
			return badRequest("filters.externalUserIds takes 1 to %d ids, got %d", maxQueryIDs, len(ids))
		}
	}
	if pc := q.PaginationContext; pc != nil {
		if pc.MaxResults != nil {
			if *pc.MaxResults < 1 || *pc.MaxResults > e.opts.PageSize {
				return badRequest("paginationContext.maxResults must be 1 to %d, got %d", e.opts.PageSize, *pc.MaxResults)
			}
			limit = *pc.MaxResults
		}
		if pc.NextToken != "" {
			o, err := parsePageToken(pc.NextToken, ids)
			if err != nil || o < 0 {
				return badRequest("paginationContext.nextToken is not valid")
			}
			offset = o
		}
	}
	var match []string
	if ids == nil {
		match = p.sortedIDs()
	} else {
		seen := map[string]bool{}
		for _, id := range ids {
			if p.Associations[id] != nil && !seen[id] {
				seen[id] = true
				match = append(match, id)
			}
		}
	}
	pos, next := e.window(offset, limit, len(match))
	page := make([]listedAssociation, 0, len(pos))
	for _, i := range pos {
		page = append(page, e.listAssociation(p.Associations[match[i]]))
	}
	pc := map[string]any{"totalCount": len(p.Associations)}
	if e.opts.TotalCount == "matches" {
		pc["totalCount"] = len(match)
	}
	if next >= 0 {
		pc["nextPageToken"] = pageToken(next, ids)
	}
	return answer{http.StatusOK, map[string]any{"paginationContext": pc, "accountAssociations": page}}
}

// listedAssociation is an association as a query answers it.
type listedAssociation struct {
	ExternalUserID string  `json:"externalUserId"`
	AmazonID       string  `json:"amazonId"`
	AmazonIDType   *string `json:"amazonIdType,omitempty"`
}

// listAssociation is a stored association as Options.QueryAmazonIDType
// has a query answer it.
func (e *Emulator) listAssociation(a *association) listedAssociation {
	la := listedAssociation{ExternalUserID: a.ExternalUserID, AmazonID: a.AmazonID}
	switch typ := e.opts.QueryAmazonIDType; typ {
	case "":
		la.AmazonIDType = &a.AmazonIDType
	case FieldOmitted:
	default:
		la.AmazonIDType = &typ
	}
	return la
}

// window picks the positions of one page of a listing of n entries asked
// for at offset, and the offset the next page starts at (-1: this is the
// last page), as Options.EndlessPages has it. The token is an offset, so a
// listing that loses an entry between two pages skips the one after it.
func (e *Emulator) window(offset, limit, n int) (pos []int, next int) {
	if e.opts.EndlessPages == PagesRepeat {
		for i := 0; i < limit && n > 0; i++ {
			pos = append(pos, (offset+i)%n)
		}
		return pos, offset + limit
	}
	start := min(offset, n)
	end := min(start+limit, n)
	for i := start; i < end; i++ {
		pos = append(pos, i)
	}
	switch {
	case end < n:
		return pos, end
	case e.opts.EndlessPages == PagesEmpty:
		return pos, offset + limit // past the end: a new token every time
	case e.opts.EndlessPages == PagesSameToken:
		return pos, offset // the token of this very page
	}
	return pos, -1
}

// A page token carries the offset and a fingerprint of the filter, so a
// token can't be replayed against another query.
func pageToken(offset int, ids []string) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d:%s", offset, fingerprint(ids)))
}

func parsePageToken(tok string, ids []string) (int, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, err
	}
	off, fp, ok := strings.Cut(string(raw), ":")
	if !ok || fp != fingerprint(ids) {
		return 0, fmt.Errorf("token does not belong to this query")
	}
	return strconv.Atoi(off)
}

func fingerprint(ids []string) string {
	var h uint64 = 14695981039346656037
	for _, id := range ids {
		for i := 0; i < len(id); i++ {
			h ^= uint64(id[i])
			h *= 1099511628211
		}
		h ^= 0xff
		h *= 1099511628211
	}
	return strconv.FormatUint(h, 36)
}
