// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// An ERC20 with chosen decimals and an open mint: the testbed's USDC, DAI, WBTC and friends.
contract TestToken is ERC20 {
    uint8 private immutable _dec;

    constructor(string memory name_, string memory symbol_, uint8 decimals_) ERC20(name_, symbol_) {
        _dec = decimals_;
    }

    function decimals() public view override returns (uint8) {
        return _dec;
    }

    /// Anyone may mint: agents are funded by minting, as a faucet would.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
