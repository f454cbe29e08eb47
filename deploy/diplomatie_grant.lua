-- Per-community grants, checked by nginx itself (deploy/nginx.conf, location /c/).
--
-- The gate sets a grant cookie (format and keys: gate/tokens.py, docs/tokens.md) when it lets a
-- member read a community. With a valid grant for the community of the address, beside the session
-- cookie it names, nginx serves the file without asking the gate, if it knows which blob the address
-- is: that comes from the gate's earlier "yes" for the same address (a decision does not depend on
-- who asked, once the gate has said yes to a member), kept in this worker's memory with the release
-- it belongs to. Each decision names the community's current release; once that news is MAP_TTL
-- seconds old, the next request of the community asks the gate again (the others keep serving for
-- at most ASKING seconds more, so that they do not all ask at once), so a new release (or a
-- withdrawal) is followed within 2 s and the gate answers about once per community per MAP_TTL, not
-- once per address.
-- Anything else asks the gate (location /_decide), whose answer is used as before; nothing is ever
-- written to disk per request.
--
-- Refusals of forged cookies cost less than a valid request: a request without a session cookie,
-- with one that is not even shaped like a token, with one the gate refused less than REFUSED_TTL
-- seconds ago, or, without a valid grant, with a session whose seal (an HMAC the gate made for that
-- session with a key of the file) is missing or wrong, gets the gate's sign-in redirect from here
-- (its headers are in the key file), without asking the gate: a new forged session each time costs
-- one HMAC here, never a signature check (about 200 µs) in the gate.
--
-- Fail closed: while the key file cannot be read or is malformed, every grant is refused and every
-- request asks the gate.
--
-- Reads of cable pages served on a grant are reported to the gate (gate/readreports.py), so that the
-- community's owner counts them (`diplomatie activity`) exactly as the reads the gate serves itself.
-- The gate's "yes" for a cable's page names the cable (X-Diplomatie-Cable: the gate holds the rule of
-- what a cable's page is, gate/readership.py); nginx keeps it with the address. After a GET of such a
-- page answered 200 or 304 on a grant, the log phase notes (community, cable, session) once per
-- session, cable and ISO week (a shared dictionary of all workers, each entry expiring at the end of
-- its week; before it, each worker's own table, so that a repeated read costs two look-ups), and each
-- worker posts its notes to the gate every report_every seconds, signed with a
-- grant key (gate/tokens.py report_problem). Nothing waits on the gate: the page is sent before the
-- log phase, and a report the gate does not take is dropped (its notes forgotten, so that the next
-- read of those pages is noted again).

local bit = require("bit")

local M = {}

local RELOAD = 1            -- seconds between two reads of the key file (rotation is followed within it)
local MAP_TTL = 1.5         -- seconds the news of a community's current release is trusted...
local ASKING = 0.5          -- ...and for how much longer while one request asks the gate (2 s in all)
local MAP_MAX = 50000       -- addresses remembered per worker (all forgotten when full)
local REFUSED_TTL = 10      -- seconds a refused session cookie is answered here
local REFUSED_MAX = 50000
local ADMITTED_MAX = 20000  -- Cookie headers remembered as admitted per worker (all forgotten when full)
local HEADER = "diplomatie-grant-keys 2"
local WEEK = 604800         -- seconds in a week; ISO weeks start on Monday, 00:00 UTC...
local MONDAY = 345600       -- ...and 1970-01-05T00:00Z is one
local PENDING_MAX = 20000   -- notes a worker keeps before it posts them (more are dropped and noted again later)
local SEEN_MAX = 100000     -- (session, page) noted this week remembered per worker (all forgotten when full)
local REPORT_BYTES = 65536  -- at most this much in one report (gate/readreports.py reads up to 256 KiB)
-- Headers of the gate's decision that are not the file's: never copied to the answer.
local SKIP = {["set-cookie"] = true, ["x-diplomatie-blob"] = true, ["x-diplomatie-session"] = true,
              ["content-length"] = true, ["connection"] = true, ["keep-alive"] = true, ["date"] = true,
              ["server"] = true, ["transfer-encoding"] = true, ["x-diplomatie-release"] = true,
              ["x-diplomatie-cable"] = true}
-- The headers a decision may set on a file (gate/blobs.py accel): cleared from a storage fault.
local FILE_HEADERS = {["etag"] = true, ["content-encoding"] = true, ["cache-control"] = true, ["vary"] = true,
                      ["content-security-policy"] = true, ["x-content-type-options"] = true,
                      ["referrer-policy"] = true, ["x-frame-options"] = true, ["strict-transport-security"] = true,
                      ["permissions-policy"] = true, ["cross-origin-opener-policy"] = true,
                      ["cross-origin-resource-policy"] = true, ["set-cookie"] = true}

local key_file = nil
-- The headers nginx adds itself to every answer of location /c/ (deploy/diplomatie_headers.conf,
-- generated from the gate's own definitions): lower-case name -> value, and how many.
local fixed, fixed_count = {}, 0
-- The headers nginx adds itself to the files of location /c/ only (deploy/diplomatie_file_headers.conf):
-- lower-case name -> value. known() serves only an address whose decision carries exactly these.
local file_fixed = {}
-- Headers of a file that nginx adds from a variable this module sets (add_header NAME $VAR in
-- location /c/ and @decide; Cache-Control in @decide only, location /c/ adds its constant itself): no
-- escaping scan of a long value, and nothing when no file is served.
local VARS = {["content-security-policy"] = "d_csp", ["vary"] = "d_vary", ["cache-control"] = "d_cache",
              ["strict-transport-security"] = "d_hsts"}
-- The representation's headers, which a 304 does not carry (gate/blobs.py typed): in location /c/,
-- added by nginx from these variables, set only when the answer is the file (add_header without
-- `always`); in @decide set through ngx.header, and nginx's not-modified filter drops them from a 304.
local TYPED = {["content-type"] = "d_type", ["content-encoding"] = "d_encoding"}
local conf = nil
local conf_text = nil
local next_read = 0
-- Cookie headers whose grant passed every check: {community, expiry, session}. A later request with
-- the same Cookie header (the same session and grant, read the same way), for the same community,
-- before the expiry, needs no parsing and no hashing: one table look-up. Forgotten whenever the key
-- file changes.
local admitted, admitted_count = {}, 0
-- path -> Accept-Encoding -> {blob, headers, release}: what the gate said each address is.
local map, map_count = {}, 0
local releases = {}  -- community -> {current release, when the gate said so}
local refused, refused_count = {}, 0
-- Reads to report: the gates ({host, port}, tried in order), how often, and this worker's notes.
local report_to, report_every = {}, 5
local pending, pending_count = {}, 0
local noted = ngx.shared.diplomatie_reads  -- (week, community, cable, session) already noted
local reporting = false  -- a configuration with report_to, the shared dictionary (and $d_read)
-- session -> "<community> <cable>" -> the week this worker noted it: a repeated read costs two table
-- look-ups (no string built, no hash, no lock), the shared dictionary is asked only on a worker's first.
local seen, seen_count = {}, 0

-- The headers a file of the gate's (deploy/diplomatie_headers.conf, diplomatie_file_headers.conf)
-- adds, read at start: only lines the generator writes (`add_header Name "value" always;`, comments,
-- blank lines); anything else stops nginx's start. Returns lower-case name -> value, and how many.
local function read_headers(path)
    local file, err = io.open(path, "r")
    if not file then error("diplomatie: cannot read " .. path .. ": " .. tostring(err)) end
    local text = file:read("*a")
    file:close()
    local found, count = {}, 0
    local number = 0
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
        number = number + 1
        if not line:match("^%s*$") and not line:match("^%s*#") then
            local name, value = line:match('^%s*add_header ([%w-]+) "([^"$\\;{}]*)" always;%s*$')
            if not name or found[name:lower()] then
                error("diplomatie: " .. path .. ":" .. number .. ": not a header line the gate writes: " .. line)
            end
            found[name:lower()] = value
            count = count + 1
        end
    end
    return found, count
end

-- deploy/diplomatie_headers.conf: the headers of every answer.
function M.read_fixed(path)
    fixed, fixed_count = read_headers(path)
end

-- init_by_lua: the grant key file and where reads are reported ({report_to = "host:port host:port",
-- report_every = seconds}); without report_to, nothing is noted. headers, file_headers: the files of
-- the headers nginx adds itself (deploy/diplomatie_headers.conf, diplomatie_file_headers.conf).
function M.configure(path, reports)
    key_file = path
    reports = reports or {}
    if reports.headers then M.read_fixed(reports.headers) end
    if reports.file_headers then file_fixed = read_headers(reports.file_headers) end
    for host, port in (reports.report_to or ""):gmatch("([^%s]+):(%d+)") do
        report_to[#report_to + 1] = {host, tonumber(port)}
    end
    report_every = tonumber(reports.report_every) or report_every
    if report_every <= 0 then report_every = 5 end
    noted = ngx.shared.diplomatie_reads
    reporting = #report_to > 0 and noted ~= nil
end

-- True when `headers` (lower-case name -> value) carry every header nginx adds itself, with its
-- value: only then may nginx answer with them (else it would send a header the gate did not).
local function carries_fixed(headers)
    local found = 0
    for name, value in pairs(headers) do
        local mine = fixed[name:lower()]
        if mine then
            if mine ~= value then return false end
            found = found + 1
        end
    end
    return found == fixed_count
end

local function from_hex(text)
    return (text:gsub("..", function(pair) return string.char(tonumber(pair, 16)) end))
end

-- The key file (gate/tokens.py GrantKeys.to_text), or nil when it cannot be read or is malformed.
local function parse(text)
    local c = {keys = {}, redirect = {}, nkeys = 0}
    local first = true
    for line in text:gmatch("[^\n]+") do
        if first then
            if line ~= HEADER then return nil end
            first = false
        else
            local name, rest = line:match("^(%a+) (.*)$")
            if name == "cookies" then
                c.session, c.grant, c.seal = rest:match("^(%S+) (%S+) (%S+)$")
            elseif name == "ttl" then
                c.ttl = tonumber(rest:match("^%d+$"))
            elseif name == "key" then
                local kid, secret = rest:match("^(%x+) %d+ (%x+)$")
                if not kid or #kid ~= 8 or #secret ~= 64 then return nil end
                c.keys[kid] = from_hex(secret)
                c.report_kid = kid  -- the last listed, the oldest: every gate process has read it
                c.nkeys = c.nkeys + 1
            elseif name == "header" then
                local header, value = rest:match("^(%S+) (.*)$")
                if not header then return nil end
                c.redirect[#c.redirect + 1] = {header, value}
            elseif name ~= "secure" then
                return nil
            end
        end
    end
    if first or not c.session or not c.seal or not c.ttl or c.ttl < 1 or c.ttl > 60 or c.nkeys == 0 then return nil end
    -- nginx adds the fixed headers to the redirect itself; should the gate's redirect not carry exactly
    -- those, the gate answers instead (fail closed: nothing but the gate's own headers is ever sent).
    local own, named = {}, {}
    for _, header in ipairs(c.redirect) do
        local name = header[1]:lower()
        named[name] = named[name] == nil and header[2] or false  -- twice: never the fixed value
        if not fixed[name] then own[#own + 1] = header end
    end
    c.redirect_ours = carries_fixed(named)
    c.redirect = own
    if not c.redirect_ours then
        ngx.log(ngx.ERR, "diplomatie: the gate's sign-in redirect does not carry the headers of "
            .. "diplomatie_headers.conf (regenerate it from this gate); the gate answers every sign-in")
    end
    return c
end

local function keys()
    local now = ngx.now()
    if now >= next_read then
        next_read = now + RELOAD
        local text
        local file = key_file and io.open(key_file, "r")
        if file then
            text = file:read("*a")
            file:close()
        end
        if text ~= conf_text then
            conf_text = text
            conf = text and parse(text) or nil
            admitted, admitted_count = {}, 0
        end
    end
    return conf
end

-- The request path runs no Lua pattern (string.match and friends stop LuaJIT's compiler, and the
-- interpreted path costs tens of microseconds a request): plain finds and byte loops only.

local function all_bytes(text, first, last, ok)
    for i = first, last do
        if not ok(text:byte(i)) then return false end
    end
    return true
end

local function digit(b) return b >= 48 and b <= 57 end
local function lower_or_digit(b) return digit(b) or (b >= 97 and b <= 122) end
local function community_byte(b) return lower_or_digit(b) or b == 45 or b == 95 end  -- - _
local function base64url_byte(b)
    return lower_or_digit(b) or (b >= 65 and b <= 90) or b == 45 or b == 95
end
local function simple_path_byte(b)  -- letters, digits and - . _ ~ /
    return base64url_byte(b) or b == 46 or b == 126 or b == 47
end

-- The community of "/c/<community>/…", or nil (gate/serving.py: [a-z0-9][a-z0-9_-]{0,63}).
local function community_of(path)
    if path:sub(1, 3) ~= "/c/" then return nil end
    local slash = path:find("/", 4, true)
    if not slash or slash == 4 or slash > 68 or not lower_or_digit(path:byte(4)) then return nil end
    if not all_bytes(path, 5, slash - 1, community_byte) then return nil end
    return path:sub(4, slash - 1), slash
end

local function is_space(byte)
    return byte == 32 or (byte ~= nil and byte >= 9 and byte <= 13)
end

-- text:sub(first, last) without the white space at either end (plain byte loops: a pattern such as
-- "^%s*(.-)%s*$" is quadratic in the length, and session cookies are hundreds of bytes long).
local function trimmed(text, first, last)
    while first <= last and is_space(text:byte(first)) do first = first + 1 end
    while last >= first and is_space(text:byte(last)) do last = last - 1 end
    return text:sub(first, last)
end

-- The value of the cookie `name` in a Cookie header, read as the gate does (gate/http.py
-- cookie_value): the first `name=` wins; empty is absent. Should the two ever read a header
-- differently, nginx only refuses more: a grant names the session the gate read.
local function cookie(header, name)
    if not header then return nil end
    local prefix = name .. "="
    local first, size = 1, #header
    while first <= size do
        local semicolon = header:find(";", first, true) or size + 1
        local part = trimmed(header, first, semicolon - 1)
        if part:sub(1, #prefix) == prefix then
            local value = part:sub(#prefix + 1)
            if value == "" then return nil end
            return value
        end
        first = semicolon + 1
    end
    return nil
end

local function same(a, b)  -- constant time for strings of one length
    if #a ~= #b then return false end
    local diff = 0
    for i = 1, #a do
        diff = bit.bor(diff, bit.bxor(a:byte(i), b:byte(i)))
    end
    return diff == 0
end

local function remember(cache, count, max, key, value)
    if count >= max then
        for k in pairs(cache) do cache[k] = nil end
        count = 0
    end
    if cache[key] == nil then count = count + 1 end
    cache[key] = value
    return count
end

-- gate/tokens.py grant_problem, in the same order: true only for a grant of this community, MACed by
-- a key of the file, unexpired and not beyond the lifetime, naming this session.
local function grant_ok(c, grant, community, session)
    if not grant or #grant > 256 or grant:sub(1, 3) ~= "g1." then return false end
    local fields, first = {}, 4
    for i = 1, 5 do
        local dot = grant:find(".", first, true)
        if (dot == nil) ~= (i == 5) then return false end  -- exactly five fields after "g1"
        fields[i] = grant:sub(first, (dot or #grant + 1) - 1)
        first = (dot or 0) + 1
    end
    local named, exp, ref, kid, mac = fields[1], fields[2], fields[3], fields[4], fields[5]
    local secret = c.keys[kid]
    if not secret then return false end
    local payload = grant:sub(1, #grant - #mac - 1)
    if not same(ngx.encode_base64(ngx.hmac_sha1(secret, payload), true), mac) then return false end
    if named ~= community then return false end
    if #exp == 0 or #exp > 12 or not all_bytes(exp, 1, #exp, digit) then return false end
    local expiry, now = tonumber(exp), ngx.time()
    if expiry <= now or expiry > now + c.ttl + 1 then return false end
    if not same(ref, ngx.encode_base64(ngx.sha1_bin(session), true)) then return false end
    return expiry
end

-- gate/tokens.py seal_problem: "s1.<kid>.<mac>", MACed by a key of the file over this session. The
-- gate made it when it issued or accepted the session: without it, nginx never asks the gate.
local function seal_ok(c, seal, session)
    if not seal or #seal ~= 39 or seal:sub(1, 3) ~= "s1." or seal:byte(12) ~= 46 then return false end
    local kid = seal:sub(4, 11)
    local secret = c.keys[kid]
    if not secret then return false end
    return same(ngx.encode_base64(ngx.hmac_sha1(secret, "s1." .. kid .. "." .. session), true), seal:sub(13))
end

-- A compact JWS whose signature is 64 bytes (Ed25519): anything else the gate refuses unread.
local function token_shaped(session)
    local size = #session
    if size > 4096 or size < 90 then return false end
    local one = session:find(".", 1, true)
    local two = one and session:find(".", one + 1, true)
    if not two or one == 1 or two == one + 1 or size - two ~= 86 then return false end
    return all_bytes(session, 1, one - 1, base64url_byte) and all_bytes(session, one + 1, two - 1, base64url_byte)
        and all_bytes(session, two + 1, size, base64url_byte)
end


-- The sign-in redirect the gate gives a request without a valid session, for addresses the gate
-- would not refuse first (its path checks: gate/serving.py); other addresses go to the gate.
local function sign_in(c, path)
    local community, slash = community_of(path)
    if not community or not all_bytes(path, slash, #path, simple_path_byte) or path:find("//", 1, true)
            or path:find("/.", 1, true) then
        return ngx.exec("@gate")
    end
    if not c.redirect_ours then return ngx.exec("@gate") end
    ngx.status = 302
    for _, header in ipairs(c.redirect) do
        ngx.header[header[1]] = header[2]
    end
    ngx.header["Location"] = "/login?next=" .. path
    ngx.header["Content-Length"] = 0
    ngx.send_headers()
    return ngx.exit(ngx.HTTP_OK)
end

-- The file nginx sends (try_files names the blob) with the decision's headers, set here, before
-- nginx's static module runs: nginx itself then answers If-None-Match with a 304 (its not-modified
-- filter compares the request's tags with the ETag set here, as gate/blobs.py is_not_modified does:
-- "*" or one tag, weak comparison) and drops the content type and encoding from it, as the gate does.
--
-- The decision's headers go out three ways: those that are the same on every answer are added by
-- nginx itself (deploy/diplomatie_headers.conf), the content policy, Vary, Cache-Control and HSTS from
-- variables set here (add_header in location @decide), the rest (ETag, which nginx's not-modified
-- filter reads, the content type and encoding, which it drops from a 304) set here.
local function serve(entry, set_cookie)
    local var = ngx.var
    var.d_blob = entry.blob
    local vars = entry.vars
    for i = 1, #vars, 2 do
        var[vars[i]] = vars[i + 1]
    end
    local header, headers = ngx.header, entry.headers
    for i = 1, #headers, 2 do
        header[headers[i]] = headers[i + 1]
    end
    if set_cookie then header["Set-Cookie"] = set_cookie end
end

-- nginx's own comparison of If-None-Match with the ETag it is given (ngx_http_test_if_match, weak):
-- "*" alone, or a tag of the list (W/ or not) equal to `etag`, followed by spaces or tabs and a comma
-- or the end. The usual request's 304 is decided here, so this must say exactly what nginx says on
-- the other paths (and what the gate says: a generated test holds the three together).
local function nginx_not_modified(list, etag)
    local size = #list
    if list == "*" then return true end
    local length = #etag
    local i = 1
    while i <= size do
        if size - i + 1 > 2 and list:byte(i) == 87 and list:byte(i + 1) == 47 then i = i + 2 end  -- W/
        if length > size - i + 1 then return false end
        if list:find(etag, i, true) == i then
            i = i + length
            local b = list:byte(i)
            while b == 32 or b == 9 do
                i = i + 1
                b = list:byte(i)
            end
            if b == nil or b == 44 then return true end
        end
        local b = list:byte(i)
        while b ~= nil and b ~= 44 do
            i = i + 1
            b = list:byte(i)
        end
        while b == 32 or b == 9 or b == 44 do
            i = i + 1
            b = list:byte(i)
        end
    end
    return false
end

-- What the gate said the address is, for the request's Accept-Encoding (the decision may depend on
-- the encodings the client takes), or nil.
local function learned(path)
    local by_encoding = map[path]
    return by_encoding and by_encoding[ngx.var.http_accept_encoding or ""]
end

local function learn(path, entry)
    local encodings = ngx.var.http_accept_encoding or ""
    if #encodings > 200 or #path > 1200 then return end
    if map_count >= MAP_MAX then
        map, map_count = {}, 0
    end
    local by_encoding = map[path]
    if not by_encoding then
        by_encoding = {}
        map[path] = by_encoding
    end
    if by_encoding[encodings] == nil then map_count = map_count + 1 end
    by_encoding[encodings] = entry
end

-- Ask the gate (location /_decide, the request's own headers) and follow its answer.
local function decide(c, path, session)
    local res = ngx.location.capture("/_decide")
    local answer = {}  -- the decision's headers by lower-case name (a subrequest's table is not)
    for name, value in pairs(res.header) do
        answer[name:lower()] = value
    end
    local blob = answer["x-diplomatie-blob"]
    if res.status == 200 and type(blob) == "string" and #blob == 64 and blob:match("^%x+$") then
        if not carries_fixed(answer) then
            ngx.log(ngx.ERR, "diplomatie: the gate's headers for ", path, " are not those of ",
                "diplomatie_headers.conf (regenerate it from this gate); the gate answers")
            return ngx.exec("@gate")
        end
        local headers, vars, strings = {}, {}, {}
        local etag = answer["etag"]
        -- known() (location /c/) serves an entry whose headers are each sent once, all of them
        -- variables nginx adds (none left for ngx.header), and whose ETag is one tag of printable
        -- characters, as the gate makes them (gate/blobs.py etag_of), sent as it is.
        local usual = type(etag) == "string" and etag:find('^"[%w%-_.]+"$') ~= nil
        for name, value in pairs(file_fixed) do  -- nginx adds these itself in location /c/
            if answer[name] ~= value then
                usual = false
                ngx.log(ngx.ERR, "diplomatie: the gate's ", name, " for ", path, " is not that of ",
                        "diplomatie_file_headers.conf (regenerate it from this gate); served from @decide")
            end
        end
        for name, value in pairs(answer) do
            local var = VARS[name]
            if not SKIP[name] and not fixed[name] and type(value) ~= "string" then usual = false end
            if var and type(value) == "string" then
                vars[#vars + 1] = var
                vars[#vars + 1] = value
                strings[name] = value
            elseif not SKIP[name] and not fixed[name] then
                headers[#headers + 1] = name
                headers[#headers + 1] = value
                if TYPED[name] then
                    strings[name] = value
                elseif name ~= "etag" then
                    usual = false  -- a header known() has no variable for
                end
            end
        end
        local release = answer["x-diplomatie-release"]
        local cable = answer["x-diplomatie-cable"]
        local community = community_of(path)
        -- headers: the file's, for serve() (@decide); etag and the values of VARS and TYPED (d_<name>
        -- in known()): for known() (location /c/), only when the file has no other header
        local entry = {blob = blob, headers = headers, vars = vars, release = release,
                       etag = usual and etag or nil,
                       csp = strings["content-security-policy"], vary = strings["vary"],
                       hsts = strings["strict-transport-security"],
                       type = strings["content-type"], encoding = strings["content-encoding"],
                       cable = type(cable) == "string" and community and community .. " " .. cable or nil}
        if type(release) == "string" and community then releases[community] = {release, ngx.now()} end
        learn(path, entry)
        return serve(entry, answer["set-cookie"])
    end
    if c and session and answer["x-diplomatie-session"] == "none" then
        refused_count = remember(refused, refused_count, REFUSED_MAX, session, ngx.now() + REFUSED_TTL)
        return sign_in(c, path)
    end
    return ngx.exec("@gate")
end

-- Serve from what the gate said this address is, while the news of the community's release is fresh
-- (and return what it said); false when the gate must be asked.
local function serve_learned(community, path)
    local entry = learned(path)
    local current = releases[community]
    if entry and current and entry.release == current[1] then
        local age = ngx.now() - current[2]
        if age < MAP_TTL or (current[3] and age < MAP_TTL + ASKING) then
            serve(entry)
            return entry
        end
        current[3] = true  -- this request asks the gate; the others keep serving meanwhile
    end
    return false
end

-- Serve on a grant from what nginx learned, noting the read of a cable's page for the log phase.
local function served_on_grant(method, community, path, session)
    local entry = serve_learned(community, path)
    if not entry then return false end
    local cable = entry.cable  -- "<community> <cable>"
    if cable and method == "GET" and reporting then
        local cables = seen[session]
        if not cables or cables[cable] ~= math.floor((ngx.time() - MONDAY) / WEEK) then
            ngx.var.d_read = cable .. " " .. session  -- for the log phase (a variable: no table per request)
        end
    end
    return true
end

local function refused_now(session)
    local until_ = refused[session]
    return until_ ~= nil and until_ > ngx.now()
end

-- set_by_lua of location /c/ ($d_blob), given the request's Cookie header, raw URI, Accept-Encoding
-- and If-None-Match (nginx passes them: no variable is looked up by name here on a 304). It runs before
-- nginx's odd-path check: it answers only addresses learned from the gate, which every request reaches
-- after that check. The usual request, decided without a Lua thread of its own and without a log phase
-- (a set_by_lua handler runs on the worker's Lua state, no coroutine): a GET or HEAD whose Cookie header
-- was admitted for the address's community and has not expired, of a session not refused, for an
-- address learned in the release said current less than MAP_TTL seconds ago (or while another request
-- asks), with no read to note. It returns "304" when the request's If-None-Match names the file
-- (nginx's comparison, and the gate's: gate/blobs.py is_not_modified; like the gate, If-Match and the
-- date preconditions are not looked at): nginx then answers from no file at all (`return 304`); else,
-- unless the request carries If-Match or If-Unmodified-Since (which nginx's not-modified filter would
-- hold against the file, @decide handles them), the blob. Every header is a variable nginx adds
-- (add_header): nothing goes through ngx.header, whose values are scanned byte by byte for characters
-- to escape. Otherwise it returns "", and nginx hands the request to access() (location @decide), which
-- checks everything again from the start (and sets the file's variables again).
function M.known(header, uri, encodings, if_none_match)
    local known = admitted[header]
    if not known or known[2] <= ngx.time() then return "" end
    local method = ngx.req.get_method()
    if method ~= "GET" and method ~= "HEAD" then return "" end
    local c = keys()
    if not c or known ~= admitted[header] then return "" end  -- a changed key file forgets every admission
    local query = uri:find("?", 1, true)
    local path = query and uri:sub(1, query - 1) or uri
    local community = known[1]  -- the address must be of the grant's community: "/c/<community>/…"
    local size = #community
    if path:byte(4 + size) ~= 47 or path:sub(1, 3) ~= "/c/" or path:sub(4, 3 + size) ~= community then
        return ""
    end
    local session = known[3]
    if refused_now(session) then return "" end
    local by_encoding = map[path]
    local entry = by_encoding and by_encoding[encodings]
    local current = releases[community]
    if not entry or not current or entry.release ~= current[1] or not entry.etag then return "" end
    local age = ngx.now() - current[2]
    if not (age < MAP_TTL or (current[3] and age < MAP_TTL + ASKING)) then return "" end
    local cable = entry.cable
    if cable and method == "GET" and reporting then
        local cables = seen[session]
        if not cables or cables[cable] ~= math.floor((ngx.time() - MONDAY) / WEEK) then return "" end
    end
    local etag = entry.etag
    local var = ngx.var
    local not_modified = if_none_match == etag or (if_none_match ~= "" and nginx_not_modified(if_none_match, etag))
    if not not_modified and (var.http_if_match or var.http_if_unmodified_since) then return "" end
    -- No loop of a few turns here: LuaJIT would start a trace at it and abort it each time the loop
    -- ends (an error thrown and caught: ~20,000 instructions), again and again.
    var.d_etag = etag
    local value = entry.csp
    if value then var.d_csp = value end
    value = entry.vary
    if value then var.d_vary = value end
    value = entry.hsts
    if value then var.d_hsts = value end
    if not_modified then return "304" end
    value = entry.type
    if value then var.d_type = value end
    value = entry.encoding
    if value then var.d_encoding = value end
    return entry.blob
end

-- A community's feed (/c/<community>/feed.xml, the normalised path): the gate answers it itself, a
-- browser with a page, a feed reader with the Atom document (gate/feedpage.py), so nginx never learns
-- a blob for it and asks no decision. Checked here, on the way to a decision, rather than by a regular
-- expression location that every request of location ^~ /c/ would be matched against.
local function is_feed(uri)
    local community, slash = community_of(uri)
    return community ~= nil and #uri == slash + 8 and uri:sub(slash + 1) == "feed.xml"
end

-- access_by_lua of location @decide: serve from a grant, answer a refused session, or ask the gate.
function M.access()
    local method = ngx.req.get_method()
    if method ~= "GET" and method ~= "HEAD" then return ngx.exec("@gate") end  -- the gate's 405
    if is_feed(ngx.var.uri) then return ngx.exec("@gate") end
    local uri = ngx.var.request_uri
    local query = uri:find("?", 1, true)
    local path = query and uri:sub(1, query - 1) or uri
    local c = keys()
    local community = community_of(path)
    if not c or not community then return decide(nil, path, nil) end
    local header = ngx.var.http_cookie
    local known = header and admitted[header]
    if known and known[1] == community and known[2] > ngx.time() then  -- the usual request: one look-up
        local session = known[3]
        if refused_now(session) then return sign_in(c, path) end
        if served_on_grant(method, community, path, session) then return end
        return decide(c, path, session)
    end
    local session = cookie(header, c.session)
    if not session or not token_shaped(session) then return sign_in(c, path) end
    if refused_now(session) then return sign_in(c, path) end
    local expiry = grant_ok(c, cookie(header, c.grant), community, session)
    if expiry then
        if #header <= 8192 then
            if admitted_count >= ADMITTED_MAX then
                admitted, admitted_count = {}, 0
            end
            if admitted[header] == nil then admitted_count = admitted_count + 1 end
            admitted[header] = {community, expiry, session}
        end
        if served_on_grant(method, community, path, session) then return end
        return decide(c, path, session)
    end
    -- No valid grant: the gate is asked about a session only when it carries the seal the gate made.
    if not seal_ok(c, cookie(header, c.seal), session) then return sign_in(c, path) end
    return decide(c, path, session)
end

-- log_by_lua of location /c/: note a read of a cable's page answered on a grant, once per session,
-- cable and week for all workers (the page is already sent).
function M.log()
    local read = ngx.var.d_read  -- "<community> <cable> <session>", or ""
    if not read or read == "" then return end
    local status = ngx.status
    if (status ~= 200 and status ~= 304) or pending_count >= PENDING_MAX then return end
    local since = ngx.time() - MONDAY
    local week = math.floor(since / WEEK)
    local split = read:find(" ", read:find(" ", 1, true) + 1, true)
    local cable, session = read:sub(1, split - 1), read:sub(split + 1)
    local cables = seen[session]
    if not cables then
        if seen_count >= SEEN_MAX then seen, seen_count = {}, 0 end
        cables = {}
        seen[session] = cables
    end
    if cables[cable] == nil then seen_count = seen_count + 1 end
    cables[cable] = week
    local key = week .. " " .. ngx.encode_base64(ngx.sha1_bin(read), true)
    if not noted:add(key, true, WEEK - since % WEEK) then return end  -- noted already (or no room)
    pending_count = pending_count + 1
    pending[pending_count] = {key, read .. "\n", session, cable}
end

-- POST one report to the first gate that takes it; false when none does.
local function post(c, body)
    local kid = c.report_kid
    local signed = "r1." .. kid .. "."
    local request = "POST /_reads HTTP/1.1\r\nHost: diplomatie-gate\r\nContent-Type: text/plain\r\n"
        .. "Connection: close\r\nContent-Length: " .. #body .. "\r\nX-Diplomatie-Reads: " .. signed
        .. ngx.encode_base64(ngx.hmac_sha1(c.keys[kid], signed .. body), true) .. "\r\n\r\n" .. body
    for _, gate in ipairs(report_to) do
        local sock = ngx.socket.tcp()
        sock:settimeouts(1000, 2000, 5000)
        local line
        local ok, err = sock:connect(gate[1], gate[2])
        if ok then ok, err = sock:send(request) end
        if ok then line, err = sock:receive("*l") end
        sock:close()
        if line and line:sub(1, 13) == "HTTP/1.1 200 " then return true end
        ngx.log(ngx.WARN, "diplomatie: read report not taken by ", gate[1], ":", gate[2], ": ", line or err)
    end
    return false
end

-- post, false without keys or on an error (at a worker's graceful exit a timer may find sockets refused).
local function posted(c, body)
    if not c then return false end
    local ok, taken = pcall(post, c, body)
    return ok and taken
end

-- The timer of each worker (and its last run when the worker exits gracefully): post the notes taken
-- since the last time, in reports of REPORT_BYTES at most; the notes of a report no gate took are
-- forgotten, so that those pages are noted again.
local function flush()
    if pending_count == 0 then return end
    local batch, count = pending, pending_count
    pending, pending_count = {}, 0
    local c = keys()
    local head = "diplomatie-reads 1 " .. ngx.time() .. "\n"
    local lines, size, first = {head}, #head, 1
    for i = 1, count + 1 do
        local note = batch[i]
        if not note or size + #note[2] > REPORT_BYTES then
            if #lines > 1 and not posted(c, table.concat(lines)) then
                for j = first, i - 1 do  -- forgotten: noted again at the next read
                    local lost = batch[j]
                    noted:delete(lost[1])
                    local cables = seen[lost[3]]
                    if cables then cables[lost[4]] = nil end
                end
            end
            lines, size, first = {head}, #head, i
        end
        if note then
            lines[#lines + 1] = note[2]
            size = size + #note[2]
        end
    end
end

-- init_worker_by_lua: each worker posts its notes every report_every seconds.
function M.start()
    if reporting then
        local ok, err = ngx.timer.every(report_every, flush)
        if not ok then ngx.log(ngx.ERR, "diplomatie: cannot report reads: ", err) end
    end
end

-- header_filter_by_lua of the storage fault (a blob named by the gate is missing): none of the file's
-- headers, which Lua set before nginx looked for the blob; nginx adds the fault's own.
function M.fault_headers()
    local header = ngx.header
    for name in pairs(FILE_HEADERS) do
        header[name] = nil
    end
    header["Content-Type"] = "text/plain"
end

return M
