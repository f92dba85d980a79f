"""nasplug-samplers: active-learning samplers and the encoders and predictors they train."""
