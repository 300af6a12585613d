package main

import (
	"time"

	"github.com/apiguard/apiguard/internal/settings"
)

// jwtState is the authentication policy of one plugin configuration.
type jwtState struct{}

func (p *pluginContext) configureJWT(s *settings.Settings) error { return nil }

func (p *pluginContext) tickJWT(now time.Time) {}

// authenticate is the first request stage.
func (h *httpContext) authenticate() stageResult { return stageNext }

type jwtStream struct{}
