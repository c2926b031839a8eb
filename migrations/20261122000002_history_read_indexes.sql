-- The history API reads a symbol's newest rows (`ORDER BY detected_at DESC`
-- / `calculated_at DESC` with a LIMIT): these let it walk an index instead of
-- sorting every row the symbol ever had.
CREATE INDEX idx_intraday_patterns_symbol_detected_at
    ON intraday_patterns (symbol, detected_at DESC);
CREATE INDEX idx_intraday_indicators_symbol_calculated_at
    ON intraday_indicators (symbol, calculated_at DESC);
