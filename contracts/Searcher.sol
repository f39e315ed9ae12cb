// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface IERC20Min {
    function transfer(address to, uint256 amount) external returns (bool);
    function approve(address spender, uint256 amount) external returns (bool);
    function balanceOf(address who) external view returns (uint256);
}

interface IV2Pair {
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external;
    function getReserves() external view returns (uint112, uint112, uint32);
    function token0() external view returns (address);
}

interface IV3Pool {
    function swap(address recipient, bool zeroForOne, int256 amountSpecified, uint160 sqrtPriceLimitX96, bytes calldata data)
        external
        returns (int256, int256);
    function mint(address recipient, int24 tickLower, int24 tickUpper, uint128 amount, bytes calldata data)
        external
        returns (uint256, uint256);
    function burn(int24 tickLower, int24 tickUpper, uint128 amount) external returns (uint256, uint256);
    function collect(address recipient, int24 tickLower, int24 tickUpper, uint128 amount0Requested, uint128 amount1Requested)
        external
        returns (uint128, uint128);
    function token0() external view returns (address);
    function token1() external view returns (address);
}

interface IAavePoolMin {
    function liquidationCall(address collateralAsset, address debtAsset, address user, uint256 debtToCover, bool receiveAToken)
        external;
}

/// The testbed's searcher contract: owner-gated, holds inventory, trades through V2 pairs and V3
/// pools directly (no router), checks its own profit, pays the block builder, provides JIT
/// liquidity and liquidates Aave positions. Several operators deploy copies of this same bytecode
/// (a clustering signal, as on mainnet).
contract Searcher {
    struct Hop {
        bool v3; // false: Uniswap-V2-style pair, true: Uniswap V3 pool
        address pool;
        address tokenIn;
        address tokenOut;
    }

    address public immutable owner;
    mapping(address => bool) public operators;
    address private _pool; // the V3 pool a callback may come from, set for the duration of a call

    constructor(address[] memory eoas) {
        owner = msg.sender;
        operators[msg.sender] = true;
        for (uint256 i = 0; i < eoas.length; i++) {
            operators[eoas[i]] = true;
        }
    }

    modifier onlyOperator() {
        require(operators[msg.sender], "not operator");
        _;
    }

    receive() external payable {}

    /// Trade `amountIn` of hops[0].tokenIn along `hops`; revert unless the balance of
    /// `profitToken` changed by at least `minDelta` (negative allows a planned loss, e.g. a
    /// sandwich's front leg); then pay `bribe` wei to the block's fee recipient.
    function run(Hop[] calldata hops, uint256 amountIn, address profitToken, int256 minDelta, uint256 bribe)
        external
        onlyOperator
        returns (uint256 amountOut)
    {
        uint256 before = IERC20Min(profitToken).balanceOf(address(this));
        amountOut = amountIn;
        for (uint256 i = 0; i < hops.length; i++) {
            amountOut = hops[i].v3 ? _v3(hops[i], amountOut) : _v2(hops[i], amountOut);
        }
        int256 delta = int256(IERC20Min(profitToken).balanceOf(address(this))) - int256(before);
        require(delta >= minDelta, "unprofitable");
        if (bribe > 0) {
            (bool ok,) = block.coinbase.call{value: bribe}("");
            require(ok, "bribe failed");
        }
    }

    function _v2(Hop calldata h, uint256 amountIn) private returns (uint256 out) {
        IV2Pair pair = IV2Pair(h.pool);
        (uint112 r0, uint112 r1,) = pair.getReserves();
        bool zeroForOne = pair.token0() == h.tokenIn;
        (uint256 rIn, uint256 rOut) = zeroForOne ? (uint256(r0), uint256(r1)) : (uint256(r1), uint256(r0));
        uint256 x = amountIn * 997;
        out = (x * rOut) / (rIn * 1000 + x);
        require(IERC20Min(h.tokenIn).transfer(h.pool, amountIn), "transfer failed");
        if (zeroForOne) pair.swap(0, out, address(this), "");
        else pair.swap(out, 0, address(this), "");
    }

    function _v3(Hop calldata h, uint256 amountIn) private returns (uint256 out) {
        IV3Pool pool = IV3Pool(h.pool);
        bool zeroForOne = h.tokenIn < h.tokenOut;
        _pool = h.pool;
        (int256 a0, int256 a1) = pool.swap(
            address(this),
            zeroForOne,
            int256(amountIn),
            zeroForOne ? 4295128740 : 1461446703485210103287273052203988822378723970341,
            abi.encode(h.tokenIn)
        );
        _pool = address(0);
        out = uint256(-(zeroForOne ? a1 : a0));
    }

    function uniswapV3SwapCallback(int256 a0, int256 a1, bytes calldata data) external {
        require(msg.sender == _pool, "unexpected pool");
        address tokenIn = abi.decode(data, (address));
        uint256 owed = uint256(a0 > 0 ? a0 : a1);
        require(IERC20Min(tokenIn).transfer(msg.sender, owed), "pay failed");
    }

    /// JIT: add concentrated liquidity right before a large swap...
    function jitMint(address pool, int24 tickLower, int24 tickUpper, uint128 liquidity) external onlyOperator {
        _pool = pool;
        IV3Pool(pool).mint(address(this), tickLower, tickUpper, liquidity, "");
        _pool = address(0);
    }

    /// ...and remove it with the fees right after.
    function jitBurn(address pool, int24 tickLower, int24 tickUpper, uint128 liquidity, uint256 bribe) external onlyOperator {
        IV3Pool(pool).burn(tickLower, tickUpper, liquidity);
        IV3Pool(pool).collect(address(this), tickLower, tickUpper, type(uint128).max, type(uint128).max);
        if (bribe > 0) {
            (bool ok,) = block.coinbase.call{value: bribe}("");
            require(ok, "bribe failed");
        }
    }

    function uniswapV3MintCallback(uint256 owed0, uint256 owed1, bytes calldata) external {
        require(msg.sender == _pool, "unexpected pool");
        if (owed0 > 0) require(IERC20Min(IV3Pool(msg.sender).token0()).transfer(msg.sender, owed0), "pay0 failed");
        if (owed1 > 0) require(IERC20Min(IV3Pool(msg.sender).token1()).transfer(msg.sender, owed1), "pay1 failed");
    }

    /// Repay `debtToCover` of `user`'s `debt` on Aave and seize discounted `collateral`.
    function liquidate(address aavePool, address collateral, address debt, address user, uint256 debtToCover, uint256 bribe)
        external
        onlyOperator
    {
        IERC20Min(debt).approve(aavePool, debtToCover);
        IAavePoolMin(aavePool).liquidationCall(collateral, debt, user, debtToCover, false);
        if (bribe > 0) {
            (bool ok,) = block.coinbase.call{value: bribe}("");
            require(ok, "bribe failed");
        }
    }

    function sweep(address token, address to, uint256 amount) external {
        require(msg.sender == owner, "not owner");
        require(IERC20Min(token).transfer(to, amount), "sweep failed");
    }
}
