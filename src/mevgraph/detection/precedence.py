"""precedence (to be written): resolve(candidates) -> candidates."""
