package main

import "github.com/apiguard/apiguard/internal/settings"

// rateLimitState is the rate-limit policies of one plugin configuration.
type rateLimitState struct{}

func (p *pluginContext) configureRateLimits(s *settings.Settings) error { return nil }

// rateLimit is the second request stage.
func (h *httpContext) rateLimit() stageResult { return stageNext }

// addRateLimitHeaders adds the RateLimit headers to an admitted response.
func (h *httpContext) addRateLimitHeaders() {}

// chargeResponseCost charges response-cost budgets when the stream ends.
func (h *httpContext) chargeResponseCost() {}

type rateLimitStream struct{}
