"""price sources (to be written): PriceSource protocol and on-chain derived prices."""
