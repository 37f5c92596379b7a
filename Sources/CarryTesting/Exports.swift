// Test support re-exports the synthetic generators so tests need one import.
@_exported public import CarryEngine
