"""Versioned schema migrations, one SQL text for PostgreSQL and the embedded DuckDB store.

A migration is applied once, in a transaction, and recorded in ``schema_migrations(version,
applied_at)``; :func:`statements` renders it for a dialect: ``{{JSON}}`` becomes ``JSONB``
(PostgreSQL) or ``JSON`` (DuckDB), and a statement whose first line is ``-- @postgres`` runs on
PostgreSQL only. DuckDB gets the primary keys and unique constraints but none of the secondary
B-tree indexes: it is columnar (zone maps serve its range scans, sorts are top-N over the column)
and its ART indexes only slow down writes and deletes.

Deviations from the spec (``SPEC.md`` section 3), all deliberate:

``mev_opportunities``
  * ``timestamp`` is nullable: a block whose source lacks its time (most shared fixture blocks)
    is still stored; such rows never enter per-day figures (leakage, active days).
  * ``mev_profit_usd`` is nullable, with ``usd_unpriced_reason``: USD exists only where an
    on-chain price exists, never a silent 0. It holds the *gross* profit (also in
    ``gross_profit_usd``); ``net_profit_usd`` is gross - gas - coinbase bribes.
  * ``id`` is deterministic, ``uuid5(chain:block_hash:finding id)`` (see ``rows.py``).
  * extra columns: ``block_hash``, ``finding_id``, ``victim_txs``, ``searcher``, ``contract``,
    ``nested_in`` and ``counted`` (False for a finding nested in another one: stored and listed,
    but excluded from every total, bot and leakage figure), ``protocols`` and ``pools`` (all of
    them; ``protocol_id`` is the first), ``attacker_tx_count``, ``coinbase_transfer_wei``,
    ``private_mempool`` (NULL = unknown), ``profit_by_token`` (JSON, raw amounts as decimal
    strings), ``details`` (JSON, the detector's facts).
  * ``status`` is ``executed`` (incl. unprofitable) or ``reverted``.
  * indexes end in ``NULLS LAST, id`` so that every sort the API offers (NULLs last, ties by
    id) is an index scan in both directions; ``idx_mev_opportunities_type`` and ``_chain`` carry
    a second column (time, block) -- their prefix still serves the spec's lookups.

``mev_bots``
  * unique on ``(chain_id, bot_address)`` instead of ``bot_address`` alone: a contract address
    can be a different bot on another chain;
  * ``first_seen`` is nullable (bots seen only in blocks without a timestamp);
  * ``uses_private_mempool`` defaults to NULL: a block alone cannot tell a private flow apart;
  * extra ``total_opportunities``.

``protocol_mev_leakage``
  * extra ``jit_mev``; unique on ``(protocol_id, chain_id, date)``.

``0002_graph`` adds ``graph_edges``: the property graph's edges of every stored block (one row
per edge, ``mevgraph.store.base.EdgeRecord``; ``IN_BLOCK`` and ``HOLDS`` are implied and not
stored; raw amounts as decimal text), written and removed with their block, plus GIN indexes
on ``mev_opportunities.pools``/``protocols`` for the per-pool and per-protocol statistics
(``pools @> ARRAY[...]``). Versions are numbered in the order they were written, and each is
applied once whatever order a database met them in.

New tables: ``blocks`` (what was ingested, for idempotency and reorgs), ``api_keys`` (sha256 of
the secret, never the secret), and two summaries maintained by ingest so that the API's totals over
a filtered set read a few thousand summary rows instead of scanning the table:
``mev_opportunity_daily`` per (chain, type, UTC day) and ``mev_bot_daily`` per (bot, chain,
type, UTC day); ``day`` is NULL for rows without a timestamp. They are separate tables so that
the all-bots rows stay a small, dense table.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Migration", "MIGRATIONS", "statements"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    sql: str


_INITIAL = """
CREATE TABLE mev_opportunities (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  opportunity_type VARCHAR(50) NOT NULL,
  chain_id VARCHAR(50) NOT NULL,
  block_number BIGINT NOT NULL,
  "timestamp" TIMESTAMP,
  target_tx_hash VARCHAR(255),
  mev_tx_hashes VARCHAR(255)[],
  token_addresses VARCHAR(255)[],
  token_symbols VARCHAR(50)[],
  protocol_id VARCHAR(255),
  protocol_name VARCHAR(255),
  dex_name VARCHAR(255),
  mev_profit_usd DECIMAL(20, 2),
  victim_loss_usd DECIMAL(20, 2),
  gas_cost_usd DECIMAL(10, 2),
  net_profit_usd DECIMAL(20, 2),
  bot_address VARCHAR(255),
  bot_name VARCHAR(255),
  bot_type VARCHAR(50),
  detection_method VARCHAR(50),
  confidence_score DECIMAL(5, 2),
  status VARCHAR(20) DEFAULT 'detected',
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  usd_unpriced_reason TEXT,
  gross_profit_usd DECIMAL(20, 2),
  block_hash VARCHAR(66) NOT NULL,
  finding_id VARCHAR(255) NOT NULL,
  victim_txs VARCHAR(255)[],
  searcher VARCHAR(42),
  contract VARCHAR(42),
  nested_in VARCHAR(255),
  counted BOOLEAN NOT NULL DEFAULT TRUE,
  protocols VARCHAR(255)[],
  pools VARCHAR(255)[],
  attacker_tx_count INTEGER NOT NULL DEFAULT 0,
  coinbase_transfer_wei DECIMAL(38, 0),
  private_mempool BOOLEAN,
  profit_by_token {{JSON}},
  details {{JSON}}
);

-- @postgres
CREATE INDEX idx_mev_opportunities_type
  ON mev_opportunities(opportunity_type, "timestamp" DESC NULLS LAST, id DESC);
-- @postgres
CREATE INDEX idx_mev_opportunities_chain ON mev_opportunities(chain_id, block_number);
-- @postgres
CREATE INDEX idx_mev_opportunities_timestamp ON mev_opportunities("timestamp" DESC NULLS LAST, id DESC);
-- @postgres
CREATE INDEX idx_mev_opportunities_timestamp_asc ON mev_opportunities("timestamp" ASC NULLS LAST, id ASC);
-- @postgres
CREATE INDEX idx_mev_opportunities_bot
  ON mev_opportunities(bot_address, "timestamp" DESC NULLS LAST, id DESC);
-- @postgres
CREATE INDEX idx_mev_opportunities_profit ON mev_opportunities(mev_profit_usd DESC NULLS LAST, id DESC);
-- @postgres
CREATE INDEX idx_mev_opportunities_profit_asc ON mev_opportunities(mev_profit_usd ASC NULLS LAST, id ASC);
-- @postgres
CREATE INDEX idx_mev_opportunities_confidence
  ON mev_opportunities(confidence_score DESC NULLS LAST, id DESC);
-- @postgres
CREATE INDEX idx_mev_opportunities_confidence_asc
  ON mev_opportunities(confidence_score ASC NULLS LAST, id ASC);
-- @postgres
CREATE INDEX idx_mev_opportunities_composite
  ON mev_opportunities(opportunity_type, chain_id, "timestamp" DESC NULLS LAST, id DESC);

CREATE TABLE mev_bots (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  bot_address VARCHAR(255) NOT NULL,
  chain_id VARCHAR(50) NOT NULL,
  bot_name VARCHAR(255),
  bot_type VARCHAR(50),
  verified BOOLEAN DEFAULT FALSE,
  total_mev_extracted DECIMAL(20, 2) DEFAULT 0,
  total_transactions INTEGER DEFAULT 0,
  success_rate DECIMAL(5, 2),
  avg_profit_per_tx DECIMAL(20, 2),
  first_seen TIMESTAMP,
  last_active TIMESTAMP,
  active_days INTEGER DEFAULT 0,
  preferred_opportunity_types VARCHAR(50)[],
  preferred_protocols VARCHAR(255)[],
  preferred_tokens VARCHAR(255)[],
  sophistication_score DECIMAL(5, 2),
  uses_flashbots BOOLEAN DEFAULT FALSE,
  uses_private_mempool BOOLEAN,
  total_opportunities INTEGER DEFAULT 0,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  UNIQUE (chain_id, bot_address)
);

-- @postgres
CREATE INDEX idx_mev_bots_address ON mev_bots(bot_address);
-- @postgres
CREATE INDEX idx_mev_bots_chain ON mev_bots(chain_id);
-- @postgres
CREATE INDEX idx_mev_bots_extracted ON mev_bots(total_mev_extracted DESC);
-- @postgres
CREATE INDEX idx_mev_bots_type ON mev_bots(bot_type);

CREATE TABLE transaction_vulnerability_assessments (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tx_hash VARCHAR(255),
  user_address VARCHAR(255) NOT NULL,
  chain_id VARCHAR(50) NOT NULL,
  "timestamp" TIMESTAMP NOT NULL,
  token_in_address VARCHAR(255),
  token_out_address VARCHAR(255),
  amount_in DECIMAL(30, 10),
  amount_out DECIMAL(30, 10),
  slippage_tolerance DECIMAL(5, 2),
  vulnerability_score DECIMAL(5, 2) NOT NULL,
  risk_category VARCHAR(20) NOT NULL,
  sandwich_risk DECIMAL(5, 2),
  frontrun_risk DECIMAL(5, 2),
  backrun_risk DECIMAL(5, 2),
  estimated_mev_loss_usd DECIMAL(20, 2),
  estimated_slippage_pct DECIMAL(5, 2),
  recommended_slippage DECIMAL(5, 2),
  recommended_gas_price DECIMAL(10, 2),
  use_private_mempool BOOLEAN DEFAULT FALSE,
  use_mev_protection_rpc BOOLEAN DEFAULT FALSE,
  alternative_routes {{JSON}},
  simulation_results {{JSON}},
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

-- @postgres
CREATE INDEX idx_vulnerability_assessments_user ON transaction_vulnerability_assessments(user_address);
-- @postgres
CREATE INDEX idx_vulnerability_assessments_timestamp
  ON transaction_vulnerability_assessments("timestamp" DESC);
-- @postgres
CREATE INDEX idx_vulnerability_assessments_risk ON transaction_vulnerability_assessments(risk_category);
-- @postgres
CREATE INDEX idx_vulnerability_assessments_score
  ON transaction_vulnerability_assessments(vulnerability_score DESC);

CREATE TABLE protocol_mev_leakage (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  protocol_id VARCHAR(255) NOT NULL,
  chain_id VARCHAR(50) NOT NULL,
  "date" DATE NOT NULL,
  total_mev_extracted DECIMAL(20, 2) NOT NULL,
  sandwich_mev DECIMAL(20, 2),
  frontrun_mev DECIMAL(20, 2),
  backrun_mev DECIMAL(20, 2),
  arbitrage_mev DECIMAL(20, 2),
  liquidation_mev DECIMAL(20, 2),
  jit_mev DECIMAL(20, 2),
  total_transactions INTEGER,
  mev_affected_transactions INTEGER,
  mev_affected_pct DECIMAL(5, 2),
  total_user_loss DECIMAL(20, 2),
  avg_loss_per_affected_tx DECIMAL(20, 2),
  unique_bots INTEGER,
  top_bot_addresses VARCHAR(255)[],
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  UNIQUE (protocol_id, chain_id, "date")
);

-- @postgres
CREATE INDEX idx_protocol_mev_leakage_protocol ON protocol_mev_leakage(protocol_id);
-- @postgres
CREATE INDEX idx_protocol_mev_leakage_date ON protocol_mev_leakage("date" DESC);
-- @postgres
CREATE INDEX idx_protocol_mev_leakage_extracted ON protocol_mev_leakage(total_mev_extracted DESC);
-- @postgres
CREATE INDEX idx_protocol_mev_leakage_composite ON protocol_mev_leakage(protocol_id, "date" DESC);

CREATE TABLE blocks (
  chain_id VARCHAR(50) NOT NULL,
  number BIGINT NOT NULL,
  hash VARCHAR(66) NOT NULL,
  parent_hash VARCHAR(66),
  "timestamp" TIMESTAMP,
  tx_count INTEGER NOT NULL,
  protocol_txs {{JSON}},
  ingested_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (chain_id, number),
  UNIQUE (chain_id, hash)
);

-- @postgres
CREATE INDEX idx_blocks_timestamp ON blocks(chain_id, "timestamp");

CREATE TABLE api_keys (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  key_hash VARCHAR(64) NOT NULL UNIQUE,
  scopes VARCHAR(64)[] NOT NULL,
  name VARCHAR(255),
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  revoked_at TIMESTAMP
);

CREATE TABLE mev_opportunity_daily (
  chain_id VARCHAR(50) NOT NULL,
  opportunity_type VARCHAR(50) NOT NULL,
  day DATE,
  opportunities BIGINT NOT NULL,
  counted BIGINT NOT NULL,
  priced BIGINT NOT NULL,
  mev_profit_usd DECIMAL(38, 2) NOT NULL,
  victim_loss_usd DECIMAL(38, 2) NOT NULL
);

-- @postgres
CREATE INDEX idx_mev_opportunity_daily ON mev_opportunity_daily(chain_id, day);

CREATE TABLE mev_bot_daily (
  bot_address VARCHAR(255) NOT NULL,
  chain_id VARCHAR(50) NOT NULL,
  opportunity_type VARCHAR(50) NOT NULL,
  day DATE,
  opportunities BIGINT NOT NULL,
  counted BIGINT NOT NULL,
  priced BIGINT NOT NULL,
  mev_profit_usd DECIMAL(38, 2) NOT NULL,
  victim_loss_usd DECIMAL(38, 2) NOT NULL
);

-- @postgres
CREATE INDEX idx_mev_bot_daily ON mev_bot_daily(bot_address, chain_id, day);
"""

# Webhook rules per API key and the alerts they could not deliver (see ``store/webhooks.py``):
# ``secret`` is stored as given (the dispatcher signs with it), ``filter`` holds AlertFilter's fields.
_WEBHOOKS = """
CREATE TABLE alert_rules (
  id UUID PRIMARY KEY,
  key_identity VARCHAR(64) NOT NULL,
  name VARCHAR(255),
  url TEXT NOT NULL,
  secret VARCHAR(255) NOT NULL,
  filter {{JSON}} NOT NULL,
  active BOOLEAN NOT NULL DEFAULT TRUE,
  created_at TIMESTAMP NOT NULL
);

-- @postgres
CREATE INDEX idx_alert_rules_key ON alert_rules(key_identity, created_at);

CREATE TABLE alert_dead_letters (
  id UUID PRIMARY KEY,
  rule_id UUID NOT NULL,
  alert_id TEXT NOT NULL,
  alert {{JSON}} NOT NULL,
  attempts INTEGER NOT NULL,
  last_status INTEGER,
  last_error TEXT,
  failed_at TIMESTAMP NOT NULL
);

-- @postgres
CREATE INDEX idx_alert_dead_letters_rule ON alert_dead_letters(rule_id, failed_at DESC, id DESC);
"""

_GRAPH = """
CREATE TABLE graph_edges (
  chain_id VARCHAR(50) NOT NULL,
  block_number BIGINT NOT NULL,
  tx_index INTEGER,
  tx_hash VARCHAR(66),
  edge_type VARCHAR(20) NOT NULL,
  src VARCHAR(66) NOT NULL,
  dst VARCHAR(66) NOT NULL,
  protocol VARCHAR(64),
  token VARCHAR(42),
  amount_raw TEXT
);

-- @postgres
CREATE INDEX idx_graph_edges_block ON graph_edges(chain_id, block_number);
-- @postgres
CREATE INDEX idx_graph_edges_src ON graph_edges(src, edge_type);
-- @postgres
CREATE INDEX idx_graph_edges_dst ON graph_edges(dst, edge_type);
-- @postgres
CREATE INDEX idx_mev_opportunities_pools ON mev_opportunities USING GIN (pools);
-- @postgres
CREATE INDEX idx_mev_opportunities_protocols ON mev_opportunities USING GIN (protocols);
"""

# Covering indexes for the totals of a time window's partial edge days (``SqlStore._totals``):
# the window's whole days come from the daily summaries, its first and last partial days from
# the table -- with these, from the index alone (measured on 1M rows: 2.9 ms -> 0.7 ms per edge).
_TOTALS_INDEXES = """
-- @postgres
CREATE INDEX idx_mev_opportunities_time_totals ON mev_opportunities("timestamp")
  INCLUDE (chain_id, opportunity_type, counted, mev_profit_usd, victim_loss_usd);
-- @postgres
CREATE INDEX idx_mev_opportunities_type_totals ON mev_opportunities(opportunity_type, "timestamp")
  INCLUDE (chain_id, counted, mev_profit_usd, victim_loss_usd)
"""

_WIRE_JSON = """
-- @postgres
ALTER TABLE mev_opportunities ADD COLUMN wire TEXT;
-- @postgres
CREATE FUNCTION mev_opportunity_wire() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT json_build_object(
     'id', id, 'opportunityType', opportunity_type, 'chainId', chain_id, 'blockNumber', block_number,
     'timestamp', to_char("timestamp", 'YYYY-MM-DD"T"HH24:MI:SS')
       || CASE WHEN date_trunc('second', "timestamp") = "timestamp" THEN ''
          ELSE to_char("timestamp", '.US') END || 'Z',
     'transactions', json_build_object('targetTxHash', target_tx_hash,
       'mevTxHashes', COALESCE(to_json(mev_tx_hashes), '[]'::json)),
     'tokens', json_build_object('addresses', COALESCE(to_json(token_addresses), '[]'::json),
       'symbols', COALESCE(to_json(token_symbols), '[]'::json)),
     'protocol', json_build_object('protocolId', protocol_id, 'protocolName', protocol_name,
       'dexName', dex_name),
     'financials', json_build_object('mevProfitUsd', mev_profit_usd, 'victimLossUsd', victim_loss_usd,
       'gasCostUsd', gas_cost_usd, 'netProfitUsd', net_profit_usd),
     'bot', json_build_object('address', bot_address, 'name', bot_name, 'type', bot_type),
     'detection', json_build_object('method', detection_method, 'confidenceScore', confidence_score),
     'status', status,
     'extras', json_build_object('blockHash', block_hash, 'findingId', finding_id, 'counted', counted,
       'victimTxs', COALESCE(to_json(victim_txs), '[]'::json),
       'profitByToken', COALESCE(profit_by_token::json, '{}'::json),
       'usdUnpricedReason', usd_unpriced_reason, 'searcher', searcher, 'contract', contract,
       'nestedIn', nested_in, 'protocols', COALESCE(to_json(protocols), '[]'::json),
       'pools', COALESCE(to_json(pools), '[]'::json),
       'coinbaseTransferWei', coinbase_transfer_wei::text, 'details', NULL))::text
  INTO NEW.wire FROM (SELECT NEW.*) AS r;
  RETURN NEW;
END
$$;
-- @postgres
CREATE TRIGGER mev_opportunity_wire BEFORE INSERT OR UPDATE ON mev_opportunities
  FOR EACH ROW EXECUTE FUNCTION mev_opportunity_wire();
-- @postgres
UPDATE mev_opportunities SET wire = NULL
"""
"""The API's list-row JSON (``mevgraph.api.models.opportunity_dict`` without ``details``: keys,
nesting, nulls and types as the Python rendering -- money as JSON numbers, raw amounts as
strings, ISO UTC times with a Z and microseconds only when present), kept beside each row by a
trigger on every insert and update; the last statement fills it for rows already stored. The
embedded store renders list rows in Python instead."""

_WIRE_STORAGE = """
-- @postgres
ALTER TABLE mev_opportunities ALTER COLUMN wire SET STORAGE MAIN;
-- @postgres
DO $$
BEGIN
  ALTER TABLE mev_opportunities ALTER COLUMN wire SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
  RAISE NOTICE 'this server has no lz4: mev_opportunities.wire keeps the default compression';
END
$$
"""
"""Keep ``wire`` inline and, where it can, uncompressed: a list page reads fifty of them, and
decompressing fifty pglz values cost ~0.28 ms of database CPU per page (measured: 313 us per
page query compressed, ~150 us uncompressed). ``MAIN`` storage makes the toaster compress and
move the row's other wide columns (``details``, ...) first; ``wire`` is compressed only when the
row still does not fit, then with lz4 where the server has it. Rows stored before this
migration keep their compressed ``wire`` until rewritten (``UPDATE mev_opportunities SET wire =
NULL`` rebuilds every one through the trigger)."""

_DAILY_INDEXES = """
-- @postgres
CREATE INDEX idx_mev_opportunity_daily_type ON mev_opportunity_daily(opportunity_type, day)
  INCLUDE (chain_id, opportunities, counted, priced, mev_profit_usd, victim_loss_usd);
-- @postgres
CREATE INDEX idx_mev_opportunity_daily_day ON mev_opportunity_daily(day)
  INCLUDE (chain_id, opportunity_type, opportunities, counted, priced, mev_profit_usd, victim_loss_usd)
"""
"""Whole-day totals of a type or of a time window read a few summary rows through an index
instead of scanning every (chain, type, day) row: a 4-day window of one type scanned 6,588 rows
for 12 (0.45 ms of database CPU per uncached list page, EXPLAIN ANALYZE over a year of days)."""

_HOURLY = """
CREATE TABLE mev_opportunity_hourly (
  chain_id VARCHAR(50) NOT NULL,
  opportunity_type VARCHAR(50) NOT NULL,
  hour TIMESTAMP NOT NULL,
  opportunities BIGINT NOT NULL,
  counted BIGINT NOT NULL,
  priced BIGINT NOT NULL,
  mev_profit_usd DECIMAL(38, 2) NOT NULL,
  victim_loss_usd DECIMAL(38, 2) NOT NULL
);
-- @postgres
CREATE INDEX idx_mev_opportunity_hourly ON mev_opportunity_hourly(chain_id, hour);
-- @postgres
CREATE INDEX idx_mev_opportunity_hourly_type ON mev_opportunity_hourly(opportunity_type, hour)
  INCLUDE (chain_id, opportunities, counted, priced, mev_profit_usd, victim_loss_usd);
-- @postgres
CREATE INDEX idx_mev_opportunity_hourly_hour ON mev_opportunity_hourly(hour)
  INCLUDE (chain_id, opportunity_type, opportunities, counted, priced, mev_profit_usd, victim_loss_usd);
INSERT INTO mev_opportunity_hourly (chain_id, opportunity_type, hour, opportunities, counted, priced,
  mev_profit_usd, victim_loss_usd)
SELECT chain_id, opportunity_type, date_trunc('hour', "timestamp"), count(*),
  sum(CASE WHEN counted THEN 1 ELSE 0 END),
  sum(CASE WHEN counted AND mev_profit_usd IS NOT NULL THEN 1 ELSE 0 END),
  coalesce(sum(CASE WHEN counted THEN mev_profit_usd END), 0),
  coalesce(sum(CASE WHEN counted THEN victim_loss_usd END), 0)
FROM mev_opportunities WHERE "timestamp" IS NOT NULL
GROUP BY chain_id, opportunity_type, date_trunc('hour', "timestamp")
"""
"""Per (chain, type, UTC hour) counts and sums, beside the daily ones: the partial days at the
edges of a time window add whole hours from here and aggregate only the minutes around them
from ``mev_opportunities`` (see ``SqlStore._edge_parts``). Kept with the daily summaries on
every write; filled here for rows already stored."""

_PROFIT_STATISTICS = """
-- @postgres
ALTER TABLE mev_opportunities ALTER COLUMN mev_profit_usd SET STATISTICS 1000;
-- @postgres
ANALYZE mev_opportunities (mev_profit_usd)
"""
"""A finer histogram of ``mev_profit_usd``: with the default one, PostgreSQL guessed 7,491 rows
of 1,000,000 at ``mev_profit_usd >= 100000`` (there were 512), walked the time index for the
newest 50 of them and discarded 100,914 rows on the way (105 ms); with it the guess is 692 and
the page is the 512 rows sorted (2.5 ms). Profit filters are the one list filter whose
selectivity spans orders of magnitude."""

MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_initial", _INITIAL),
    Migration("0002_graph", _GRAPH),
    Migration("0003_webhooks", _WEBHOOKS),
    Migration("0004_totals_indexes", _TOTALS_INDEXES),
    Migration("0005_wire_json", _WIRE_JSON),
    Migration("0006_wire_storage", _WIRE_STORAGE),
    Migration("0007_daily_indexes", _DAILY_INDEXES),
    Migration("0008_hourly", _HOURLY),
    Migration("0009_profit_statistics", _PROFIT_STATISTICS),
)
"""Every migration, oldest first. Never edit an applied one: append a new version."""

_JSON = {"postgres": "JSONB", "duckdb": "JSON"}


def statements(migration: Migration, dialect: str) -> list[str]:
    """The statements of ``migration`` for ``dialect`` (``"postgres"`` or ``"duckdb"``)."""
    out = []
    parts: list[str] = []
    for raw in migration.sql.replace("{{JSON}}", _JSON[dialect]).split(";\n"):
        parts.append(raw)
        if "".join(parts).count("$$") % 2:  # inside a dollar-quoted function body
            continue
        stmt = ";\n".join(parts).strip()
        parts = []
        if not stmt:
            continue
        if stmt.startswith("-- @postgres"):
            if dialect != "postgres":
                continue
            stmt = stmt.removeprefix("-- @postgres").strip()
        out.append(stmt)
    return out
