// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// A Chainlink-like aggregator whose answer the testbed's oracle agent sets (price crashes
/// included). Speaks both the legacy `latestAnswer` and the `latestRoundData` interfaces.
contract PriceFeed {
    int256 public latestAnswer;
    uint256 public latestTimestamp;
    uint80 public latestRound;
    uint8 public immutable decimals;
    address public owner;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    constructor(int256 initial, uint8 decimals_) {
        owner = msg.sender;
        decimals = decimals_;
        _set(initial);
    }

    function setAnswer(int256 answer) external {
        require(msg.sender == owner, "not owner");
        _set(answer);
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return (latestRound, latestAnswer, latestTimestamp, latestTimestamp, latestRound);
    }

    function _set(int256 answer) private {
        require(answer > 0, "non-positive price");
        latestAnswer = answer;
        latestTimestamp = block.timestamp;
        latestRound += 1;
        emit AnswerUpdated(answer, latestRound, block.timestamp);
    }
}
