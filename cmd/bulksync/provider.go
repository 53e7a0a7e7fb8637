package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/csvmodel"
)

// onboardFlags are the flags of the provider and network commands.
type onboardFlags struct {
	apiFlags `embed:""`
	logFlags `embed:""`
}

type providerCmd struct {
	Create providerCreateCmd `cmd:"" help:"Create a service provider; prints it with its new serviceProviderId."`
	Get    providerGetCmd    `cmd:"" help:"Print a service provider."`
	Update providerUpdateCmd `cmd:"" help:"Change a provider's display name (the logical id can't change)."`
	Delete providerDeleteCmd `cmd:"" help:"Delete a service provider."`
}

type providerCreateCmd struct {
	onboardFlags `embed:""`
	LogicalID    string `required:"" placeholder:"ID" help:"Your unique id for the provider (can't be changed later)."`
	DisplayName  string `placeholder:"NAME" help:"Customer-facing name."`
	Locale       string `default:"en-US" help:"Locale of the display name."`
}

type providerGetCmd struct {
	onboardFlags `embed:""`
	ID           string `arg:"" name:"PROVIDER_ID" help:"serviceProviderId (amzn1.comms.csp.id.…)."`
}

type providerUpdateCmd struct {
	onboardFlags `embed:""`
	ID           string `arg:"" name:"PROVIDER_ID" help:"serviceProviderId (amzn1.comms.csp.id.…)."`
	DisplayName  string `required:"" placeholder:"NAME" help:"New customer-facing name."`
	Locale       string `default:"en-US" help:"Locale of the display name."`
}

type providerDeleteCmd struct {
	onboardFlags `embed:""`
	ID           string `arg:"" name:"PROVIDER_ID" help:"serviceProviderId (amzn1.comms.csp.id.…)."`
}

type networkCmd struct {
	Create networkCreateCmd `cmd:"" help:"Map a provider to the skill that places its calls."`
	Get    networkGetCmd    `cmd:"" help:"Print a provider's network mapping."`
	Update networkUpdateCmd `cmd:"" help:"Map a provider to another skill."`
	Delete networkDeleteCmd `cmd:"" help:"Delete a provider's network mapping."`
}

type networkCreateCmd struct {
	onboardFlags `embed:""`
	ID           string `arg:"" name:"PROVIDER_ID" help:"serviceProviderId (amzn1.comms.csp.id.…)."`
	SkillID      string `required:"" placeholder:"SKILL_ID" help:"Skill id (amzn1.ask.skill.…)."`
}

type networkGetCmd struct {
	onboardFlags `embed:""`
	ID           string `arg:"" name:"PROVIDER_ID" help:"serviceProviderId (amzn1.comms.csp.id.…)."`
}

type networkUpdateCmd struct {
	onboardFlags `embed:""`
	ID           string `arg:"" name:"PROVIDER_ID" help:"serviceProviderId (amzn1.comms.csp.id.…)."`
	SkillID      string `required:"" placeholder:"SKILL_ID" help:"Skill id (amzn1.ask.skill.…)."`
}

type networkDeleteCmd struct {
	onboardFlags `embed:""`
	ID           string `arg:"" name:"PROVIDER_ID" help:"serviceProviderId (amzn1.comms.csp.id.…)."`
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

// onboard runs one onboarding call through the pool (rate limit and
// retries) and prints the API's answer, and only that, on stdout.
func onboard(ctx context.Context, g *globals, f *onboardFlags, op string, call func(context.Context, *client.Client) (any, error)) error {
	log := newLogger(g.stderr, f.logFlags, newRunID()).With().Str("op", op).Logger()
	if err := checkAPIFlags(&f.apiFlags); err != nil {
		return err
	}
	sess, err := connect(g, &f.apiFlags, log)
	if err != nil {
		return err
	}
	defer sess.close()
	var out any
	res := sess.pool.Do(ctx, op, func(ctx context.Context) error {
		var err error
		out, err = call(ctx, sess.api)
		return err
	})
	if res.Err != nil {
		return fmt.Errorf("%s: %w", op, res.Err)
	}
	if res.Interrupted {
		return fmt.Errorf("%s: %w", op, context.Canceled)
	}
	log.Info().Int("attempts", res.Attempts).Int64("duration_ms", res.Duration.Milliseconds()).Msg("done")
	if out == nil {
		return nil
	}
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "Grand Hotel & Spa", not "\u0026"
	return enc.Encode(out)
}

func checkProviderArg(id string) error {
	if msg := csvmodel.CheckProvider(id); msg != "" {
		return usageErr("PROVIDER_ID: %s", msg)
	}
	return nil
}

func checkText(flag, v string) error {
	if n := utf8.RuneCountInString(v); n < 1 || n > 255 {
		return usageErr("--%s must be 1 to 255 characters, got %d", flag, n)
	}
	return nil
}

func checkSkill(id string) error {
	if err := checkText("skill-id", id); err != nil {
		return err
	}
	if !strings.HasPrefix(id, "amzn1.") {
		return usageErr("--skill-id %q is not a skill id (amzn1.ask.skill.…)", id)
	}
	return nil
}

func displayNames(name, locale string) []client.DisplayName {
	if name == "" {
		return nil
	}
	return []client.DisplayName{{Locale: locale, Value: name}}
}

func (c *providerCreateCmd) Run(ctx context.Context, g *globals) error {
	if err := checkText("logical-id", c.LogicalID); err != nil {
		return err
	}
	if c.DisplayName != "" {
		if err := checkText("display-name", c.DisplayName); err != nil {
			return err
		}
	}
	return onboard(ctx, g, &c.onboardFlags, "provider.create", func(ctx context.Context, api *client.Client) (any, error) {
		return api.CreateServiceProvider(ctx, client.ServiceProvider{ServiceProviderLogicalID: c.LogicalID, DisplayName: displayNames(c.DisplayName, c.Locale)})
	})
}

func (c *providerGetCmd) Run(ctx context.Context, g *globals) error {
	if err := checkProviderArg(c.ID); err != nil {
		return err
	}
	return onboard(ctx, g, &c.onboardFlags, "provider.get", func(ctx context.Context, api *client.Client) (any, error) {
		return api.GetServiceProvider(ctx, c.ID)
	})
}

func (c *providerUpdateCmd) Run(ctx context.Context, g *globals) error {
	if err := checkProviderArg(c.ID); err != nil {
		return err
	}
	if err := checkText("display-name", c.DisplayName); err != nil {
		return err
	}
	return onboard(ctx, g, &c.onboardFlags, "provider.update", func(ctx context.Context, api *client.Client) (any, error) {
		return api.UpdateServiceProvider(ctx, c.ID, client.ServiceProvider{DisplayName: displayNames(c.DisplayName, c.Locale)})
	})
}

func (c *providerDeleteCmd) Run(ctx context.Context, g *globals) error {
	if err := checkProviderArg(c.ID); err != nil {
		return err
	}
	return onboard(ctx, g, &c.onboardFlags, "provider.delete", func(ctx context.Context, api *client.Client) (any, error) {
		return nil, api.DeleteServiceProvider(ctx, c.ID)
	})
}

func (c *networkCreateCmd) Run(ctx context.Context, g *globals) error {
	return mapSkill(ctx, g, &c.onboardFlags, "network.create", c.ID, c.SkillID, (*client.Client).CreateNetworkMapping)
}

// mapSkill checks a provider and skill id, then creates or updates the mapping.
func mapSkill(ctx context.Context, g *globals, f *onboardFlags, op, id, skill string,
	call func(*client.Client, context.Context, string, client.NetworkMapping) (*client.NetworkStatus, error)) error {
	if err := checkProviderArg(id); err != nil {
		return err
	}
	if err := checkSkill(skill); err != nil {
		return err
	}
	m := client.NetworkMapping{NetworkType: "SKILL", SkillConfiguration: client.SkillConfiguration{SkillID: skill}}
	return onboard(ctx, g, f, op, func(ctx context.Context, api *client.Client) (any, error) {
		return call(api, ctx, id, m)
	})
}

func (c *networkGetCmd) Run(ctx context.Context, g *globals) error {
	if err := checkProviderArg(c.ID); err != nil {
		return err
	}
	return onboard(ctx, g, &c.onboardFlags, "network.get", func(ctx context.Context, api *client.Client) (any, error) {
		return api.GetNetworkMapping(ctx, c.ID)
	})
}

func (c *networkUpdateCmd) Run(ctx context.Context, g *globals) error {
	return mapSkill(ctx, g, &c.onboardFlags, "network.update", c.ID, c.SkillID, (*client.Client).UpdateNetworkMapping)
}

func (c *networkDeleteCmd) Run(ctx context.Context, g *globals) error {
	if err := checkProviderArg(c.ID); err != nil {
		return err
	}
	return onboard(ctx, g, &c.onboardFlags, "network.delete", func(ctx context.Context, api *client.Client) (any, error) {
		return nil, api.DeleteNetworkMapping(ctx, c.ID)
	})
}
