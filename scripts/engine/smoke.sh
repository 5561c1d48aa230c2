#!/usr/bin/env bash
# Smoke test of the two test engines over HTTP with curl.
#   scripts/engine/smoke.sh [26|18|all]
# Reads MBG_TEST_URL_26 / MBG_TEST_URL_18 (default: the scripts' URLs) and
# MBG_TEST_USER / MBG_TEST_PASSWORD. Creates and drops databases smoke_26 /
# smoke_18. Prints one line per check and a closing "N passed, N failed".
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WHICH=${1:-all}
U26=${MBG_TEST_URL_26:-$("$SCRIPT_DIR/../local-engine" url)}
U18=${MBG_TEST_URL_18:-$("$SCRIPT_DIR/../ch18" url)}
TUSER=${MBG_TEST_USER:-mbg_test}
TPASS=${MBG_TEST_PASSWORD:-mbg_test_password}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PASS=0
FAIL=0

ok() { PASS=$((PASS + 1)); echo "ok   $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }

# req URL SQL [curl args...]: body -> $TMP/body, headers -> $TMP/head, status -> $STATUS
req() {
    local url=$1 sql=$2
    shift 2
    STATUS=$(curl -s -o "$TMP/body" -D "$TMP/head" -w '%{http_code}' "$@" "$url" --data-binary "$sql")
}
body() { cat "$TMP/body"; }
header() { grep -i "^$1:" "$TMP/head" | head -n1 | cut -d' ' -f2- | tr -d '\r'; }

expect_ok() { # name
    if [ "$STATUS" = 200 ]; then ok "$1"; else bad "$1: HTTP $STATUS $(head -c 300 "$TMP/body")"; fi
}
expect_body() { # name expected
    if [ "$STATUS" = 200 ] && [ "$(body)" = "$2" ]; then ok "$1"; else
        bad "$1: HTTP $STATUS, wanted '$2', got '$(head -c 300 "$TMP/body")'"; fi
}
expect_error() { # name http_status code
    local code
    code=$(grep -o 'Code: [0-9]*' "$TMP/body" | head -n1 | cut -d' ' -f2)
    if [ "$STATUS" = "$2" ] && [ "$code" = "$3" ]; then ok "$1 (HTTP $2, code $3)"; else
        bad "$1: wanted HTTP $2 code $3, got HTTP $STATUS '$(head -c 300 "$TMP/body")'"; fi
}

common() { # lane url db drop_suffix
    local lane=$1 u=$2 db=$3 sync=$4
    echo "== ClickHouse $lane at $u"
    req "$u/ping" "" -X GET; expect_body "$lane ping" "Ok."
    req "$u/" "SELECT version()"; expect_ok "$lane version $(body)"
    req "$u/" "DROP DATABASE IF EXISTS $db $sync"; expect_ok "$lane drop old db"
    req "$u/" "CREATE DATABASE $db"; expect_ok "$lane create database"
    req "$u/" "CREATE TABLE $db.ev (ts DateTime, id UInt64, s String) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY id"
    expect_ok "$lane create MergeTree table"
    req "$u/" "INSERT INTO $db.ev SELECT toDateTime('2024-01-01 00:00:00') + number * 60, number, toString(number) FROM numbers(100000)"
    expect_ok "$lane INSERT SELECT 100000"
    if [ "$lane" = 26 ]; then
        local w
        w=$(header X-ClickHouse-Summary)
        case "$w" in *'"written_rows":"100000"'*) ok "$lane summary written_rows=100000" ;;
            *) bad "$lane summary: $w" ;; esac
    fi
    printf '2024-05-01 00:00:00\t1000001\ta;b\n2024-05-02 00:00:00\t1000002\ttab\\there\n' >"$TMP/rows"
    STATUS=$(curl -s -o "$TMP/body" -D "$TMP/head" -w '%{http_code}' \
        "$u/?query=INSERT%20INTO%20$db.ev%20FORMAT%20TabSeparated" --data-binary @"$TMP/rows")
    expect_ok "$lane INSERT FORMAT TabSeparated from the body"
    req "$u/" "SELECT toYYYYMM(ts) AS p, count() AS c FROM $db.ev GROUP BY p ORDER BY p FORMAT TabSeparatedWithNamesAndTypes"
    expect_body "$lane SELECT FORMAT TabSeparatedWithNamesAndTypes" \
        "$(printf 'p\tc\nUInt32\tUInt64\n202401\t44640\n202402\t41760\n202403\t13600\n202405\t2')"
    req "$u/" "SELECT s FROM $db.ev WHERE id = 1000002"
    expect_body "$lane escaped TSV round trip" 'tab\there'
    req "$u/" "SELECT * FROM $db.nope"
    expect_error "$lane unknown table" 404 60
    if [ "$lane" = 26 ]; then
        [ "$(header X-ClickHouse-Exception-Code)" = 60 ] && ok "$lane X-ClickHouse-Exception-Code: 60" \
            || bad "$lane exception header: $(header X-ClickHouse-Exception-Code)"
    fi
    req "$u/" "SELECT 1; SELECT 2"
    expect_error "$lane multi-statement rejected" 400 62
    req "$u/" "SELEC 1"
    expect_error "$lane syntax error" 400 62
    req "$u/" "SELECT 1" -u "$TUSER:$TPASS"
    expect_body "$lane $TUSER with its password" 1
    req "$u/" "SELECT 1" -H "X-ClickHouse-User: $TUSER" -H "X-ClickHouse-Key: $TPASS"
    expect_body "$lane X-ClickHouse-User/Key headers" 1
    req "$u/" "SELECT 1" -u "$TUSER:wrong-password"
    if [ "$lane" = 26 ]; then expect_error "$lane wrong password" 403 516
    else expect_error "$lane wrong password" 401 193; fi
    req "$u/" "CREATE TABLE $db.ev2 AS $db.ev"; expect_ok "$lane create target table"
    req "$u/" "CREATE MATERIALIZED VIEW $db.mv TO $db.ev2 AS SELECT ts, id, s FROM $db.ev"
    expect_ok "$lane CREATE MATERIALIZED VIEW ... TO"
    req "$u/" "INSERT INTO $db.ev VALUES ('2024-06-01 00:00:00', 7, 'via-mv')"; expect_ok "$lane insert through view"
    req "$u/" "SELECT count() FROM $db.ev2"; expect_body "$lane view copied the row" 1
}

lane26() {
    local u=$U26 db=smoke_26
    common 26 "$u" "$db" SYNC
    req "$u/" "EXCHANGE TABLES $db.ev AND $db.ev2"; expect_ok "26 EXCHANGE TABLES"
    req "$u/" "SELECT (SELECT count() FROM $db.ev), (SELECT count() FROM $db.ev2)"
    expect_body "26 exchanged" "$(printf '1\t100003')"
    req "$u/?param_x=41" "SELECT {x:UInt8} + 1"; expect_body "26 param_x" 42
    req "$u/?max_threads=1" "SELECT getSetting('max_threads')"; expect_body "26 URL setting" 1
    req "$u/" "SELECT getSetting('async_insert'), getSetting('mutations_sync')"
    expect_body "26 server defaults async_insert=0 mutations_sync=0" "$(printf 'false\t0')"
    req "$u/?query=CREATE%20DATABASE%20x" "" -X GET; expect_error "26 GET is read-only" 500 164

    # KILL QUERY by the client's query_id
    local qid="smoke-long-$$"
    curl -s -o "$TMP/long" -w '%{http_code}' "$u/?query_id=$qid" \
        --data-binary "SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) % 7 = 3" >"$TMP/long.status" &
    local longpid=$!
    sleep 1
    req "$u/" "KILL QUERY WHERE query_id = '$qid' SYNC"
    wait "$longpid" || true
    if [ "$STATUS" = 200 ] && grep -q "$qid" "$TMP/body" && grep -q 'Code: 394' "$TMP/long"; then
        ok "26 KILL QUERY WHERE query_id (killed query got code 394)"
    else bad "26 KILL QUERY: HTTP $STATUS $(body) / killed: $(cat "$TMP/long.status") $(cat "$TMP/long")"; fi

    concurrency 26 "$u" "$db"
    req "$u/" "DROP DATABASE $db SYNC"; expect_ok "26 DROP DATABASE SYNC"
}

lane18() {
    local u=$U18 db=smoke_18
    common 18 "$u" "$db" ""
    req "$u/" "EXCHANGE TABLES $db.ev AND $db.ev2"; expect_error "18 has no EXCHANGE TABLES" 400 62
    concurrency 18 "$u" "$db"
    req "$u/" "DROP DATABASE $db"; expect_ok "18 DROP DATABASE"
}

# Four writers insert small batches while a 5M-row INSERT SELECT runs: they
# must not wait for it.
concurrency() {
    local lane=$1 u=$2 db=$3
    req "$u/" "CREATE TABLE $db.big (ts DateTime, id UInt64, s String) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY id"
    req "$u/" "CREATE TABLE $db.small (id UInt64) ENGINE = MergeTree ORDER BY id"
    local t0 big
    t0=$(date +%s.%N)
    curl -s -o "$TMP/big" -w '%{http_code} %{time_total}\n' "$u/" --data-binary \
        "INSERT INTO $db.big SELECT toDateTime('2024-01-01 00:00:00') + number, number, concat(toString(sipHash64(number)), '-padding-padding-padding-padding-padding-padding') FROM numbers(5000000)" \
        >"$TMP/big.status" &
    big=$!
    sleep 0.2
    local w
    for w in 1 2 3 4; do
        (for i in 1 2 3 4 5; do
            printf '%s\n' "$w$i" | curl -s -o /dev/null -w "%{http_code} %{time_total}\n" \
                "$u/?query=INSERT%20INTO%20$db.small%20FORMAT%20TSV" --data-binary @-
        done) >"$TMP/w$w" &
    done
    wait $(jobs -p | grep -v "^$big\$") 2>/dev/null || true
    local small_done big_status
    small_done=$(date +%s.%N)
    wait "$big" || true
    big_status=$(cat "$TMP/big.status")
    local codes slow
    codes=$(cat "$TMP"/w? | cut -d' ' -f1 | sort -u | tr '\n' ' ')
    slow=$(cat "$TMP"/w? | awk '$2 > 0.5' | wc -l)
    req "$u/" "SELECT (SELECT count() FROM $db.small), (SELECT count() FROM $db.big)"
    local small_s big_s
    small_s=$(awk -v a="$t0" -v b="$small_done" 'BEGIN { printf "%.2f", b - a }')
    big_s=$(echo "$big_status" | cut -d' ' -f2)
    if [ "$codes" = "200 " ] && [ "$slow" = 0 ] && [ "$(body)" = "$(printf '20\t5000000')" ] \
        && [ "${big_status%% *}" = 200 ]; then
        ok "$lane 20 small inserts from 4 writers took ${small_s}s in all while a 5M-row INSERT SELECT took ${big_s}s"
    else
        bad "$lane concurrency: codes=$codes slow=$slow counts=$(body) big=$big_status"
    fi
}

case "$WHICH" in
    26) lane26 ;;
    18) lane18 ;;
    all) lane26; lane18 ;;
    *) echo "usage: $0 [26|18|all]" >&2; exit 2 ;;
esac
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
