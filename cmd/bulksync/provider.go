package main

import (
	"context"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/bulksync/bulksync/internal/job"
)

// onboardFlags are the flags of the management commands: provider,
// network, and products other than sync and plan.
type onboardFlags struct {
	apiFlags `embed:""`
	logFlags `embed:""`
}

type providerCmd struct {
	Create providerCreateCmd `cmd:"" help:"Create a service provider; prints it with its new serviceProviderId."`
	Get    idCmd             `cmd:"" help:"Print a service provider."`
	Update providerUpdateCmd `cmd:"" help:"Change a provider's display name (the logical id can't change)."`
	Delete idCmd             `cmd:"" help:"Delete a service provider."`
}

type networkCmd struct {
	Create skillCmd `cmd:"" help:"Map a provider to the skill that places its calls."`
	Get    idCmd    `cmd:"" help:"Print a provider's network mapping."`
	Update skillCmd `cmd:"" help:"Map a provider to another skill."`
	Delete idCmd    `cmd:"" help:"Delete a provider's network mapping."`
}

// idCmd is a command about one provider: provider get|delete, network get|delete.
type idCmd struct {
	onboardFlags `embed:""`
	ID           string `arg:"" name:"PROVIDER_ID" help:"serviceProviderId (amzn1.comms.csp.id.…)."`
}

type providerCreateCmd struct {
	onboardFlags `embed:""`
	LogicalID    string `required:"" placeholder:"ID" help:"Your unique id for the provider (can't be changed later)."`
	DisplayName  string `placeholder:"NAME" help:"Customer-facing name."`
	Locale       string `default:"en-US" help:"Locale of the display name."`
}

type providerUpdateCmd struct {
	idCmd       `embed:""`
	DisplayName string `required:"" placeholder:"NAME" help:"New customer-facing name."`
	Locale      string `default:"en-US" help:"Locale of the display name."`
}

// skillCmd maps a provider to a skill: network create|update.
type skillCmd struct {
	idCmd   `embed:""`
	SkillID string `required:"" placeholder:"SKILL_ID" help:"Skill id (amzn1.ask.skill.…)."`
}

func (c *providerCmd) Help() string { return help("provider") }
func (c *networkCmd) Help() string  { return help("network") }

// opOf names the command being run: "provider.get".
func opOf(k *kong.Context) string {
	words := strings.Fields(k.Command())
	return words[0] + "." + words[1]
}

func (c *idCmd) Run(ctx context.Context, g *globals, k *kong.Context) error {
	return c.manage(ctx, g, job.ManageOptions{Op: opOf(k), ID: c.ID}, false)
}

func (c *skillCmd) Run(ctx context.Context, g *globals, k *kong.Context) error {
	return c.manage(ctx, g, job.ManageOptions{Op: opOf(k), ID: c.ID, SkillID: c.SkillID}, false)
}

func (c *providerCreateCmd) Run(ctx context.Context, g *globals) error {
	return c.manage(ctx, g, job.ManageOptions{Op: "provider.create", LogicalID: c.LogicalID, DisplayName: c.DisplayName, Locale: c.Locale}, false)
}

func (c *providerUpdateCmd) Run(ctx context.Context, g *globals) error {
	return c.manage(ctx, g, job.ManageOptions{Op: "provider.update", ID: c.ID, DisplayName: c.DisplayName, Locale: c.Locale}, false)
}

// manage connects and makes one management call o; stdout carries the
// API's answer as JSON and nothing else.
func (f *onboardFlags) manage(ctx context.Context, g *globals, o job.ManageOptions, smapi bool) error {
	s, streams, err := f.open(g, f.logFlags, smapi, "")
	res := job.Result{Verdict: job.VerdictOf(err)}
	if err == nil {
		defer s.Close()
		o.IO = streams
		res, err = job.Manage(ctx, s, o)
	}
	return g.told(res.Verdict, err)
}
