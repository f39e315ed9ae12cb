"""A thin synchronous JSON-RPC client for driving the testbed node.

Every agent transaction is sent with ``eth_sendTransaction`` from an address anvil impersonates
(``--auto-impersonate``): the node signs nothing and checks no key, but the transaction still goes
through the real mempool (``newPendingTransactions``), fee ordering and the EVM. Calls are batched
(one HTTP request for many) because per-request overhead dominates on a local node.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx
import orjson

__all__ = ["Chain", "RpcError", "Tx", "Reverted"]


class RpcError(RuntimeError):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, method: str, error: Any) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error


class Reverted(RuntimeError):
    """A transaction the caller needed mined successfully reverted."""


@dataclass(slots=True)
class Tx:
    """An EIP-1559 transaction request (hex-encoded when sent)."""

    frm: str
    to: str | None
    data: bytes = b""
    value: int = 0
    gas: int = 300_000
    max_fee: int | None = None
    tip: int | None = None
    nonce: int | None = None

    def to_rpc(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "from": self.frm,
            "data": "0x" + self.data.hex(),
            "value": hex(self.value),
            "gas": hex(self.gas),
        }
        if self.to is not None:
            d["to"] = self.to
        if self.max_fee is not None:
            d["maxFeePerGas"] = hex(self.max_fee)
            d["maxPriorityFeePerGas"] = hex(self.tip if self.tip is not None else 0)
        if self.nonce is not None:
            d["nonce"] = hex(self.nonce)
        return d


class Chain:
    """JSON-RPC to one node at ``url``."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url
        self.client = httpx.Client(timeout=timeout)
        self._id = 0
        self._chain_id: int | None = None

    def close(self) -> None:
        self.client.close()

    # -- raw -----------------------------------------------------------------------------------
    def rpc(self, method: str, *params: Any) -> Any:
        self._id += 1
        r = self.client.post(
            self.url,
            content=orjson.dumps(
                {"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)}
            ),
            headers={"content-type": "application/json"},
        )
        body = orjson.loads(r.content)
        if body.get("error"):
            raise RpcError(method, body["error"])
        return body["result"]

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]], *, raise_errors: bool = True) -> list[Any]:
        """Many calls in one HTTP request; results in call order (errors raised or returned)."""
        if not calls:
            return []
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)} for i, (m, p) in enumerate(calls)
        ]
        r = self.client.post(
            self.url, content=orjson.dumps(payload), headers={"content-type": "application/json"}
        )
        by_id = {x["id"]: x for x in orjson.loads(r.content)}
        out: list[Any] = []
        for i, (m, _) in enumerate(calls):
            x = by_id[i]
            if x.get("error"):
                if raise_errors:
                    raise RpcError(m, x["error"])
                out.append(RpcError(m, x["error"]))
            else:
                out.append(x["result"])
        return out

    # -- chain facts ---------------------------------------------------------------------------
    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.rpc("eth_chainId"), 16)
        return self._chain_id

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def base_fee(self) -> int:
        blk = self.rpc("eth_getBlockByNumber", "latest", False)
        return int(blk.get("baseFeePerGas") or "0x0", 16)

    # -- transactions --------------------------------------------------------------------------
    def send(self, tx: Tx) -> str:
        return str(self.rpc("eth_sendTransaction", tx.to_rpc()))

    def send_many(self, txs: Sequence[Tx], chunk: int = 200) -> list[str | RpcError]:
        """Send ``txs`` in batches; a rejected one yields its :class:`RpcError` in place.

        Nonces left unset are assigned here, in list order per sender (from the sender's pending
        count): anvil serves a batch concurrently, and two txs of one sender left to it can race
        for the same nonce.
        """
        senders = sorted({t.frm for t in txs if t.nonce is None})
        counts = self.batch([("eth_getTransactionCount", [a, "pending"]) for a in senders])
        nonce = {a: int(n, 16) for a, n in zip(senders, counts, strict=True)}
        numbered = []
        for t in txs:
            if t.nonce is None:
                t = replace(t, nonce=nonce[t.frm])
                nonce[t.frm] += 1
            numbered.append(t)
        out: list[str | RpcError] = []
        for i in range(0, len(numbered), chunk):
            part = numbered[i : i + chunk]
            out.extend(self.batch([("eth_sendTransaction", [t.to_rpc()]) for t in part], raise_errors=False))
        return out

    def receipts(self, hashes: Sequence[str], timeout: float = 30.0) -> list[dict[str, Any]]:
        """Receipts of ``hashes`` (waits until all are mined)."""
        deadline = time.monotonic() + timeout
        while True:
            res = self.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
            if all(r is not None for r in res):
                return res
            if time.monotonic() > deadline:
                missing = [h for h, r in zip(hashes, res, strict=True) if r is None]
                raise TimeoutError(f"{len(missing)} transactions not mined, e.g. {missing[0]}")
            time.sleep(0.01)

    def block_receipts(self, first: int, last: int) -> dict[str, dict[str, Any]]:
        """Receipts of every tx in blocks ``first..last`` by tx hash, one batched request.

        Much faster than one ``eth_getTransactionReceipt`` per tx on anvil, whose per-hash lookup
        grows with the chain (8,000 receipts: 24 s by hash, well under a second by block)."""
        res = self.batch([("eth_getBlockReceipts", [hex(n)]) for n in range(first, last + 1)])
        return {str(r["transactionHash"]).lower(): r for rs in res for r in (rs or [])}

    def run_all(
        self, txs: Sequence[Tx], what: str = "transactions", labels: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Send ``txs``, get them all mined, and return their receipts in order.

        Setup work (deployments, funding) must not fail: a refused tx raises ``RuntimeError``, a
        reverted one :class:`Reverted`, named by ``what`` and its label. Without automine, txs go
        in rounds of 800 and each round is mined until the pool is empty (anvil's pool insertion
        and mining slow down with thousands pending); receipts are then read per block.
        """
        if not txs:
            return []
        names = list(labels) if labels is not None else [f"tx {i}" for i in range(len(txs))]
        automine = bool(self.rpc("anvil_getAutomine"))
        first = self.block_number() + 1
        sent: list[str | RpcError] = []
        for i in range(0, len(txs), 800):
            sent += self.send_many(txs[i : i + 800])
            if not automine:
                for _ in range(20):  # a full block leaves the rest for the next one
                    self.mine()
                    if self.pending_count() == 0:
                        break
        bad = [(n, h) for n, h in zip(names, sent, strict=True) if isinstance(h, RpcError)]
        if bad:
            raise RuntimeError(f"{what}: {len(bad)} txs refused, e.g. {bad[0][0]}: {bad[0][1]}")
        hashes = [str(h).lower() for h in sent]
        if automine:
            receipts = self.receipts(hashes)
        else:
            by_hash = self.block_receipts(first, self.block_number())
            missing = [h for h in hashes if h not in by_hash]
            if missing:
                raise RuntimeError(f"{what}: {len(missing)} txs not mined, e.g. {missing[0]}")
            receipts = [by_hash[h] for h in hashes]
        failed = [(n, r) for n, r in zip(names, receipts, strict=True) if r["status"] != "0x1"]
        if failed:
            n, r = failed[0]
            raise Reverted(f"{what}: {len(failed)} txs reverted, e.g. {n}: tx {r['transactionHash']}")
        return receipts

    def transact(self, tx: Tx, *, mine: bool = False) -> dict[str, Any]:
        """Send one tx and return its receipt, raising :class:`Reverted` if it failed."""
        h = self.send(tx)
        if mine:
            self.mine()
        (r,) = self.receipts([h])
        if r["status"] != "0x1":
            raise Reverted(f"tx {h} to {tx.to} reverted")
        return r

    def deploy(
        self, frm: str, bytecode: str | bytes, args: bytes = b"", gas: int = 12_000_000, *, mine: bool = False
    ) -> str:
        code = (
            bytes.fromhex(bytecode[2:] if bytecode.startswith("0x") else bytecode)
            if isinstance(bytecode, str)
            else bytecode
        )
        r = self.transact(Tx(frm, None, code + args, gas=gas), mine=mine)
        return str(r["contractAddress"]).lower()

    def call(self, to: str, data: bytes, frm: str | None = None, block: str = "latest") -> bytes:
        req: dict[str, Any] = {"to": to, "data": "0x" + data.hex()}
        if frm:
            req["from"] = frm
        return bytes.fromhex(str(self.rpc("eth_call", req, block))[2:])

    def call_many(self, calls: Sequence[tuple[str, bytes]], block: str = "latest") -> list[bytes | RpcError]:
        res = self.batch(
            [("eth_call", [{"to": to, "data": "0x" + d.hex()}, block]) for to, d in calls], raise_errors=False
        )
        return [r if isinstance(r, RpcError) else bytes.fromhex(r[2:]) for r in res]

    # -- node control (anvil) ------------------------------------------------------------------
    def mine(self, timestamp: int | None = None) -> None:
        if timestamp is None:
            self.rpc("evm_mine")
        else:
            self.rpc("evm_mine", timestamp)

    def automine(self, on: bool) -> None:
        self.rpc("evm_setAutomine", on)

    def set_balance(self, addr: str, wei: int) -> None:
        self.rpc("anvil_setBalance", addr, hex(wei))

    def set_balances(self, addrs: Sequence[str], wei: int) -> None:
        self.batch([("anvil_setBalance", [a, hex(wei)]) for a in addrs])

    def pending_count(self) -> int:
        st = self.rpc("txpool_status")
        return int(st["pending"], 16) + int(st["queued"], 16)

    def dump_state(self) -> str:
        return str(self.rpc("anvil_dumpState"))

    def load_state(self, state: str) -> None:
        self.rpc("anvil_loadState", state)
