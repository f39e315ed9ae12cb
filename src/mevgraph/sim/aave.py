"""An Aave V3 lending market on the testbed node, built from the npm ``@aave/core-v3@1.19.3`` artifacts.

:func:`deploy_aave` deploys the real V3 contracts (no mocks) the way Aave's own deploy scripts
wire them: ``PoolAddressesProvider`` -> ``ACLManager`` -> ``Pool`` and ``PoolConfigurator``
behind the provider's proxies -> ``AaveOracle`` over one settable :file:`contracts/PriceFeed.sol`
per asset (USD, 8 decimals) -> ``AaveProtocolDataProvider`` -> one
``DefaultReserveInterestRateStrategy`` and the aToken / debt-token implementations ->
``initReserves`` and the risk parameters of each :class:`AaveAsset`.

The npm ``Pool`` and ``PoolConfigurator`` bytecode is unlinked: eight logic libraries are
deployed first and their addresses patched in at the offsets named by the artifact's
``linkReferences`` (``FlashLoanLogic`` itself links ``BorrowLogic``).

:class:`AaveMarket` (JSON-serialisable) holds every address. Its calldata methods
(``supply``/``borrow``/``repay``/``liquidation_call``/...) return bytes for the pool; its chain
methods read positions (``account_data``, ``debt_of``, ``price_of``) and build the feed owner's
``set_price`` transaction -- the oracle update that makes a position liquidatable.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any, NamedTuple

from mevgraph.sim.abi import arg_types, decode, encode_args, encode_call
from mevgraph.sim.chain import Chain, Tx
from mevgraph.sim.node import ROOT

__all__ = [
    "AAVE_ARTIFACTS",
    "AaveAsset",
    "AaveMarket",
    "AccountData",
    "VARIABLE",
    "artifact",
    "deploy_aave",
    "link",
]

AAVE_ARTIFACTS = ROOT / "node_modules/@aave/core-v3/artifacts/contracts"
OWN_ARTIFACTS = ROOT / "build/contracts"

VARIABLE = 2
"""``interestRateMode`` of a variable-rate borrow/repay (stable borrowing stays disabled)."""

RAY = 10**27
MAX_UINT = 2**256 - 1
_ZERO = "0x" + "00" * 20

_PATHS = {
    "PoolAddressesProvider": "protocol/configuration/PoolAddressesProvider.sol",
    "ACLManager": "protocol/configuration/ACLManager.sol",
    "Pool": "protocol/pool/Pool.sol",
    "PoolConfigurator": "protocol/pool/PoolConfigurator.sol",
    "DefaultReserveInterestRateStrategy": "protocol/pool/DefaultReserveInterestRateStrategy.sol",
    "AToken": "protocol/tokenization/AToken.sol",
    "StableDebtToken": "protocol/tokenization/StableDebtToken.sol",
    "VariableDebtToken": "protocol/tokenization/VariableDebtToken.sol",
    "AaveOracle": "misc/AaveOracle.sol",
    "AaveProtocolDataProvider": "misc/AaveProtocolDataProvider.sol",
}
_LIBRARIES = (  # dependency order: FlashLoanLogic links BorrowLogic
    "BorrowLogic",
    "BridgeLogic",
    "ConfiguratorLogic",
    "EModeLogic",
    "LiquidationLogic",
    "PoolLogic",
    "SupplyLogic",
    "FlashLoanLogic",
)
for _lib in _LIBRARIES:
    _PATHS[_lib] = f"protocol/libraries/logic/{_lib}.sol"

# Rate curve of a typical stablecoin reserve (ray): 80 % optimal usage, no base rate, 4 % / 75 %
# variable slopes; the five stable-rate parameters are zero (stable borrowing is never enabled).
_RATE_STRATEGY = (RAY * 8 // 10, 0, RAY * 4 // 100, RAY * 75 // 100, 0, 0, 0, 0, 0)


@cache
def artifact(name: str) -> dict[str, Any]:
    """The Hardhat artifact of Aave contract ``name``, or of our own contract in ``build/contracts``."""
    path = (
        AAVE_ARTIFACTS / _PATHS[name] / f"{name}.json" if name in _PATHS else OWN_ARTIFACTS / f"{name}.json"
    )
    if not path.is_file():
        hint = "run `npm ci`" if name in _PATHS else "run `node contracts/build.mjs`"
        raise FileNotFoundError(f"artifact {path} missing: {hint}")
    return dict(json.loads(path.read_text()))


def link(art: dict[str, Any], libraries: dict[str, str]) -> bytes:
    """Creation bytecode of ``art`` with each library address written over its placeholders.

    Raises:
        KeyError: a library the bytecode references is not in ``libraries``.
    """
    code = art["bytecode"].removeprefix("0x")  # hex text: the __$<hash>$__ placeholders are not hex
    for libs in (art.get("linkReferences") or {}).values():
        for lib, refs in libs.items():
            addr = libraries[lib].removeprefix("0x").lower()
            for ref in refs:
                at = 2 * ref["start"]
                code = code[:at] + addr + code[at + 2 * ref["length"] :]
    return bytes.fromhex(code)


@dataclass(frozen=True, slots=True)
class AaveAsset:
    """One reserve to list. Prices are USD with 8 decimals; risk parameters in basis points.

    ``bonus_bps`` is the liquidation *bonus* on top of the repaid value (500 = 5 %); Aave stores
    it as 10000 + bonus. ``ltv_bps``/``lt_bps``/``bonus_bps`` are ignored unless ``collateral``.
    """

    token: str
    symbol: str
    decimals: int
    price_usd_1e8: int
    ltv_bps: int = 0
    lt_bps: int = 0
    bonus_bps: int = 0
    borrowable: bool = False
    collateral: bool = False


class AccountData(NamedTuple):
    """``Pool.getUserAccountData``: values in the oracle's base currency (USD, 8 decimals),
    ``lt``/``ltv`` in basis points, ``health_factor`` in wad (1e18 = 1.0; ``MAX_UINT`` without debt)."""

    collateral_base: int
    debt_base: int
    available: int
    lt: int
    ltv: int
    health_factor: int


@dataclass(frozen=True, slots=True)
class AaveMarket:
    """Addresses of a deployed market (all lowercase); per-asset maps are keyed by underlying."""

    pool: str
    provider: str
    configurator: str
    acl_manager: str
    oracle: str
    data_provider: str
    rate_strategy: str
    admin: str
    feeds: dict[str, str] = field(default_factory=dict)
    a_tokens: dict[str, str] = field(default_factory=dict)
    variable_debt_tokens: dict[str, str] = field(default_factory=dict)
    stable_debt_tokens: dict[str, str] = field(default_factory=dict)
    symbols: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> AaveMarket:
        return cls(**obj)

    def token(self, symbol: str) -> str:
        """The underlying listed as ``symbol``."""
        for tok, sym in self.symbols.items():
            if sym == symbol:
                return tok
        raise KeyError(f"no reserve with symbol {symbol!r}")

    # -- calldata for the pool (send to ``self.pool``) -----------------------------------------
    def supply(self, token: str, amount: int, on_behalf: str) -> bytes:
        return encode_call("supply(address,uint256,address,uint16)", token, amount, on_behalf, 0)

    def withdraw(self, token: str, amount: int, to: str) -> bytes:
        return encode_call("withdraw(address,uint256,address)", token, amount, to)

    def borrow(self, token: str, amount: int, on_behalf: str) -> bytes:
        """A variable-rate borrow (the sender must be ``on_behalf`` or hold its credit delegation)."""
        return encode_call(
            "borrow(address,uint256,uint256,uint16,address)", token, amount, VARIABLE, 0, on_behalf
        )

    def repay(self, token: str, amount: int, on_behalf: str) -> bytes:
        """Repay variable debt; ``amount = 2**256 - 1`` repays all of it."""
        return encode_call("repay(address,uint256,uint256,address)", token, amount, VARIABLE, on_behalf)

    def liquidation_call(
        self, collateral: str, debt: str, user: str, debt_to_cover: int, receive_atoken: bool = False
    ) -> bytes:
        """``debt_to_cover = 2**256 - 1`` lets the pool cap it at the close factor."""
        return encode_call(
            "liquidationCall(address,address,address,uint256,bool)",
            collateral,
            debt,
            user,
            debt_to_cover,
            receive_atoken,
        )

    def approve_pool(self, amount: int = MAX_UINT) -> bytes:
        """ERC-20 ``approve(pool, amount)`` calldata (send to the token)."""
        return encode_call("approve(address,uint256)", self.pool, amount)

    # -- chain readers and transactions ---------------------------------------------------------
    def account_data(self, chain: Chain, user: str) -> AccountData:
        out = chain.call(self.pool, encode_call("getUserAccountData(address)", user))
        return AccountData(*decode(["uint256"] * 6, out))

    def debt_of(self, chain: Chain, user: str, token: str) -> int:
        """``user``'s current debt in ``token`` (variable + stable, interest included), raw units."""
        bal = encode_call("balanceOf(address)", user)
        res = chain.call_many(
            [(self.variable_debt_tokens[token], bal), (self.stable_debt_tokens[token], bal)]
        )
        total = 0
        for r in res:
            if not isinstance(r, bytes):
                raise r
            total += int(decode(["uint256"], r)[0])
        return total

    def price_of(self, chain: Chain, token: str) -> int:
        """The oracle's price of ``token`` (USD, 8 decimals)."""
        out = chain.call(self.oracle, encode_call("getAssetPrice(address)", token))
        return int(decode(["uint256"], out)[0])

    def set_price(
        self, chain: Chain, token: str, price_1e8: int, *, max_fee: int | None = None, tip: int | None = None
    ) -> Tx:
        """The transaction (from the feed's owner, read on chain) that sets ``token``'s USD price.

        Not sent: a scenario decides when (and with which fees) the update reaches the mempool.
        """
        feed = self.feeds[token]
        owner = "0x" + chain.call(feed, encode_call("owner()"))[12:32].hex()
        data = encode_call("setAnswer(int256)", price_1e8)
        return Tx(owner, feed, data, gas=100_000, max_fee=max_fee, tip=tip)

    def supply_tokens(self, chain: Chain, who: str, token: str, amount: int) -> None:
        """``who`` approves the pool and supplies ``amount`` of ``token`` it already holds (mined)."""
        txs = [
            Tx(who, token, self.approve_pool(amount), gas=100_000),
            Tx(who, self.pool, self.supply(token, amount, who)),
        ]
        _run(chain, txs, f"supply {amount} {self.symbols.get(token, token)} for {who}")


# -- deployment --------------------------------------------------------------------------------
def _run(chain: Chain, txs: Sequence[Tx], what: str) -> list[dict[str, Any]]:
    """Send ``txs``, get them mined (with or without automine), raise if any failed."""
    return chain.run_all(txs, what)


def _create(admin: str, code: bytes, args: bytes = b"", gas: int = 8_000_000) -> Tx:
    return Tx(admin, None, code + args, gas=gas)


def _deployed(receipts: Sequence[dict[str, Any]]) -> list[str]:
    return [str(r["contractAddress"]).lower() for r in receipts]


def _call(chain: Chain, to: str, signature: str, *args: Any) -> tuple[Any, ...]:
    """``signature`` is ``"f(types) -> (types)"``."""
    ret = signature.split("->")
    out = chain.call(to, encode_call(ret[0].strip(), *args))
    return decode(arg_types(ret[1].strip()), out)


def deploy_aave(
    chain: Chain, admin: str, assets: Sequence[AaveAsset], market_id: str = "mevgraph"
) -> AaveMarket:
    """Deploy and configure an Aave V3 market listing ``assets``; ``admin`` owns everything.

    ``admin`` must be able to send (``--auto-impersonate``) and hold ETH. The 28 + 3 per asset
    transactions go out in six dependency rounds, each one JSON-RPC batch; on a node without
    automine each round is mined with ``evm_mine`` (taking along whatever else is pending).

    Raises:
        Reverted: a deployment or configuration transaction reverted (the message names the step).
        RuntimeError: the node refused a transaction.
    """
    admin = admin.lower()
    enc = encode_args
    # Round 1: everything that depends on nothing.
    libs = [n for n in _LIBRARIES if n != "FlashLoanLogic"]
    txs = [
        _create(
            admin, link(artifact("PoolAddressesProvider"), {}), enc(["string", "address"], market_id, admin)
        )
    ]
    txs += [_create(admin, link(artifact(n), {})) for n in libs]
    feed_code = link(artifact("PriceFeed"), {})
    txs += [
        _create(admin, feed_code, enc(["int256", "uint8"], a.price_usd_1e8, 8), 1_000_000) for a in assets
    ]
    got = _deployed(_run(chain, txs, "aave round 1 (provider, libraries, price feeds)"))
    provider, lib_addrs, feed_addrs = (
        got[0],
        dict(zip(libs, got[1 : 1 + len(libs)], strict=True)),
        got[1 + len(libs) :],
    )
    (lib_addrs["FlashLoanLogic"],) = _deployed(
        _run(chain, [_create(admin, link(artifact("FlashLoanLogic"), lib_addrs))], "aave FlashLoanLogic")
    )

    # Round 2: ACL, pool and configurator implementations, oracle, data provider, rate strategy.
    p = enc(["address"], provider)
    tokens = [a.token.lower() for a in assets]
    txs = [
        Tx(admin, provider, encode_call("setACLAdmin(address)", admin), gas=100_000),
        _create(admin, link(artifact("ACLManager"), {}), p, 3_000_000),
        _create(admin, link(artifact("Pool"), lib_addrs), p, 10_000_000),
        _create(admin, link(artifact("PoolConfigurator"), lib_addrs), b"", 10_000_000),
        _create(
            admin,
            link(artifact("AaveOracle"), {}),
            enc(
                ["address", "address[]", "address[]", "address", "address", "uint256"],
                provider,
                tokens,
                feed_addrs,
                _ZERO,  # no fallback oracle
                _ZERO,  # base currency USD ...
                10**8,  # ... in units of 1e-8
            ),
            3_000_000,
        ),
        _create(admin, link(artifact("AaveProtocolDataProvider"), {}), p, 4_000_000),
        _create(
            admin,
            link(artifact("DefaultReserveInterestRateStrategy"), {}),
            enc(["address"] + ["uint256"] * 9, provider, *_RATE_STRATEGY),
            3_000_000,
        ),
    ]
    got = _deployed(_run(chain, txs, "aave round 2 (ACL, implementations, oracle)")[1:])
    acl, pool_impl, configurator_impl, oracle, data_provider, strategy = got

    # Round 3: wire the provider (creates the Pool and PoolConfigurator proxies), grant roles.
    def admin_tx(to: str, sig: str, *args: Any, gas: int = 300_000) -> Tx:
        return Tx(admin, to, encode_call(sig, *args), gas=gas)

    _run(
        chain,
        [
            admin_tx(provider, "setACLManager(address)", acl),
            admin_tx(provider, "setPoolImpl(address)", pool_impl, gas=1_500_000),
            admin_tx(provider, "setPoolConfiguratorImpl(address)", configurator_impl, gas=1_500_000),
            admin_tx(provider, "setPriceOracle(address)", oracle),
            admin_tx(provider, "setPoolDataProvider(address)", data_provider),
            admin_tx(acl, "addPoolAdmin(address)", admin),
            admin_tx(acl, "addRiskAdmin(address)", admin),
            admin_tx(acl, "addAssetListingAdmin(address)", admin),
        ],
        "aave round 3 (provider wiring, roles)",
    )
    (pool,) = _call(chain, provider, "getPool() -> (address)")
    (configurator,) = _call(chain, provider, "getPoolConfigurator() -> (address)")
    pool, configurator = pool.lower(), configurator.lower()

    # Round 4: token implementations (they are bound to the pool proxy), then the reserves.
    pp = enc(["address"], pool)
    got = _deployed(
        _run(
            chain,
            [
                _create(admin, link(artifact(n), {}), pp)
                for n in ("AToken", "StableDebtToken", "VariableDebtToken")
            ],
            "aave token implementations",
        )
    )
    a_impl, s_impl, v_impl = got
    inputs = [
        (
            a_impl,
            s_impl,
            v_impl,
            a.decimals,
            strategy,
            a.token.lower(),
            admin,  # treasury (receives the reserve factor's share; unused here)
            _ZERO,  # no incentives controller
            f"Aave {a.symbol}",
            f"a{a.symbol}",
            f"Aave Variable Debt {a.symbol}",
            f"variableDebt{a.symbol}",
            f"Aave Stable Debt {a.symbol}",
            f"stableDebt{a.symbol}",
            b"",
        )
        for a in assets
    ]
    struct = "(address,address,address,uint8,address,address,address,address,string,string,string,string,string,string,bytes)[]"
    txs = [admin_tx(configurator, f"initReserves({struct})", inputs, gas=3_000_000 + 2_500_000 * len(assets))]
    for a in assets:
        tok = a.token.lower()
        if a.collateral:
            txs.append(
                admin_tx(
                    configurator,
                    "configureReserveAsCollateral(address,uint256,uint256,uint256)",
                    tok,
                    a.ltv_bps,
                    a.lt_bps,
                    10_000 + a.bonus_bps,
                )
            )
        if a.borrowable:
            txs.append(admin_tx(configurator, "setReserveBorrowing(address,bool)", tok, True))
    _run(chain, txs, "aave reserves (initReserves, risk parameters)")

    # Read back the per-reserve token proxies in one batch.
    sig = "getReserveTokensAddresses(address)"
    res = chain.call_many([(data_provider, encode_call(sig, a.token.lower())) for a in assets])
    a_tokens: dict[str, str] = {}
    stable: dict[str, str] = {}
    variable: dict[str, str] = {}
    for a, r in zip(assets, res, strict=True):
        if not isinstance(r, bytes):
            raise r
        at, sd, vd = decode(["address", "address", "address"], r)
        tok = a.token.lower()
        a_tokens[tok], stable[tok], variable[tok] = at.lower(), sd.lower(), vd.lower()
    return AaveMarket(
        pool=pool,
        provider=provider,
        configurator=configurator,
        acl_manager=acl,
        oracle=oracle,
        data_provider=data_provider,
        rate_strategy=strategy,
        admin=admin,
        feeds=dict(zip(tokens, feed_addrs, strict=True)),
        a_tokens=a_tokens,
        variable_debt_tokens=variable,
        stable_debt_tokens=stable,
        symbols={a.token.lower(): a.symbol for a in assets},
    )
