package main

import (
	"context"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/job"
)

// onboardFlags are the flags of the provider and network commands.
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

func (c *providerCmd) Help() string {
	return `Example (on the emulator):
  bulksync provider create --emulate --logical-id grand-hotel --display-name "Grand Hotel"
  bulksync provider get --emulate amzn1.comms.csp.id.demo`
}

func (c *networkCmd) Help() string {
	return `Example (on the emulator):
  bulksync network create --emulate amzn1.comms.csp.id.demo --skill-id amzn1.ask.skill.1234`
}

type call = func(context.Context, *client.Client) (any, error)

// opOf names the command being run: "provider.get".
func opOf(k *kong.Context) string {
	words := strings.Fields(k.Command())
	return words[0] + "." + words[1]
}

// onboard connects and makes one onboarding call, printing the API's
// answer, and only that, on stdout.
func onboard(ctx context.Context, g *globals, f *onboardFlags, op string, c call) error {
	log := newLogger(g, f.logFlags, newRunID())
	sess, err := connect(g, &f.apiFlags, log)
	if err != nil {
		return err
	}
	defer sess.Close()
	return job.Onboard(ctx, sess, log, g.stdout, op, c)
}

// about checks the provider argument and makes the call.
func (c *idCmd) about(ctx context.Context, g *globals, op string, do call) error {
	if err := job.CheckProvider("PROVIDER_ID", c.ID); err != nil {
		return err
	}
	return onboard(ctx, g, &c.onboardFlags, op, do)
}

func (c *idCmd) Run(ctx context.Context, g *globals, k *kong.Context) error {
	op := opOf(k)
	calls := map[string]call{
		"provider.get": func(ctx context.Context, api *client.Client) (any, error) { return api.GetServiceProvider(ctx, c.ID) },
		"provider.delete": func(ctx context.Context, api *client.Client) (any, error) {
			return nil, api.DeleteServiceProvider(ctx, c.ID)
		},
		"network.get": func(ctx context.Context, api *client.Client) (any, error) { return api.GetNetworkMapping(ctx, c.ID) },
		"network.delete": func(ctx context.Context, api *client.Client) (any, error) {
			return nil, api.DeleteNetworkMapping(ctx, c.ID)
		},
	}
	return c.about(ctx, g, op, calls[op])
}

func (c *skillCmd) Run(ctx context.Context, g *globals, k *kong.Context) error {
	if err := job.CheckSkill("--skill-id", c.SkillID); err != nil {
		return err
	}
	m := client.NetworkMapping{NetworkType: "SKILL", SkillConfiguration: client.SkillConfiguration{SkillID: c.SkillID}}
	write := (*client.Client).CreateNetworkMapping
	if op := opOf(k); op == "network.update" {
		write = (*client.Client).UpdateNetworkMapping
	}
	return c.about(ctx, g, opOf(k), func(ctx context.Context, api *client.Client) (any, error) { return write(api, ctx, c.ID, m) })
}

func (c *providerCreateCmd) Run(ctx context.Context, g *globals) error {
	if err := job.CheckText("--logical-id", c.LogicalID); err != nil {
		return err
	}
	if c.DisplayName != "" {
		if err := job.CheckText("--display-name", c.DisplayName); err != nil {
			return err
		}
	}
	p := client.ServiceProvider{ServiceProviderLogicalID: c.LogicalID, DisplayName: client.DisplayNames(c.DisplayName, c.Locale)}
	return onboard(ctx, g, &c.onboardFlags, "provider.create", func(ctx context.Context, api *client.Client) (any, error) {
		return api.CreateServiceProvider(ctx, p)
	})
}

func (c *providerUpdateCmd) Run(ctx context.Context, g *globals) error {
	if err := job.CheckText("--display-name", c.DisplayName); err != nil {
		return err
	}
	p := client.ServiceProvider{DisplayName: client.DisplayNames(c.DisplayName, c.Locale)}
	return c.about(ctx, g, "provider.update", func(ctx context.Context, api *client.Client) (any, error) {
		return api.UpdateServiceProvider(ctx, c.ID, p)
	})
}
