// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The native token's logic (sdk/c/examples/token.c, sdk/rust/examples/token.rs) in
/// Solidity, with the same ABI, storage layout and revert messages: slot 0 balances, slot 1
/// allowances, slot 2 totalSupply, slot 3 owner (the first minter). The EVM side of the
/// native-vs-Solidity benchmark (executor/evm/benches/native_vs_solidity.rs).
contract PlainToken {
    mapping(address => uint256) private balances;
    mapping(address => mapping(address => uint256)) private allowances;
    uint256 public totalSupply;
    address private owner;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function decimals() external pure returns (uint8) {
        return 18;
    }

    function balanceOf(address who) external view returns (uint256) {
        return balances[who];
    }

    function allowance(address o, address spender) external view returns (uint256) {
        return allowances[o][spender];
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        move(msg.sender, to, amount);
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowances[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowances[from][msg.sender];
        require(allowed >= amount, "ERC20: insufficient allowance");
        allowances[from][msg.sender] = allowed - amount;
        move(from, to, amount);
        return true;
    }

    function mint(address to, uint256 amount) external returns (bool) {
        if (owner == address(0)) owner = msg.sender;
        else require(owner == msg.sender, "ERC20: only the owner may mint");
        totalSupply += amount;
        balances[to] += amount;
        emit Transfer(address(0), to, amount);
        return true;
    }

    function move(address from, address to, uint256 amount) private {
        uint256 fb = balances[from];
        require(fb >= amount, "ERC20: transfer amount exceeds balance");
        balances[from] = fb - amount;
        balances[to] += amount;
        emit Transfer(from, to, amount);
    }
}
