"""Performance predictors."""
