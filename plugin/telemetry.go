package main

import (
	"time"

	"github.com/apiguard/apiguard/internal/settings"
)

// telemetryState is the audit trail and export of one plugin configuration.
type telemetryState struct{}

func (p *pluginContext) configureTelemetry(s *settings.Settings) error { return nil }

func (p *pluginContext) tickTelemetry(now time.Time) {}

// observe records the finished stream: metrics and the audit event.
func (h *httpContext) observe() {}
