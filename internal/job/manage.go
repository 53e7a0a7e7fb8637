package job

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/storage"
)

// ManageOptions is one management call: onboarding a service provider,
// mapping it to a skill, or managing an in-skill product.
type ManageOptions struct {
	// Op is provider.create|get|update|delete, network.create|get|update|delete,
	// products.list|get|create|update|delete|skills, or export|products.export.
	Op string
	ID string // the provider (provider, network) or product (products) the call is about

	LogicalID, DisplayName, Locale string // provider create and update
	SkillID                        string // network create and update; products list of a skill
	VendorID                       string // products create and list (with --emulate: the demo vendor)
	File, ReferenceName            string // products create and update: the manifest, and a referenceName for it
	Stage, Type, ETag              string
	Short                          bool // products get: the summary, not the definition
	// Export (export, products.export): the providers or the skills (or
	// VendorID) whose associations are written to Out.
	Providers, Skills []string
	Out               string

	IO IO
}

// call is one management call on the client; its answer, if any, is
// printed as JSON.
type call = func(context.Context, *client.Client) (any, error)

// Manage makes one management call through the Caller (rate limit and
// retries) and prints the API's answer as JSON, and only that, to Stdout.
// A refusal the API documents for the call comes with what to do about it
// (Hint).
func Manage(ctx context.Context, s *Session, o ManageOptions) (Result, error) {
	err := manage(ctx, s, o)
	if err != nil {
		return failed(o.IO, o.Op, err)
	}
	return Result{}, nil
}

func manage(ctx context.Context, s *Session, o ManageOptions) error {
	if o.Op == "export" || o.Op == "products.export" {
		_, err := Export(ctx, s, ExportOptions{Products: o.Op == "products.export", Providers: o.Providers, VendorID: o.VendorID,
			Skills: o.Skills, Stage: o.Stage, Out: o.Out, IO: o.IO})
		return err
	}
	if s.Emulated && o.VendorID == "" && o.SkillID == "" {
		o.VendorID = emulator.DefaultVendor
	}
	switch o.Op {
	case "provider.create", "provider.update":
		p := client.ServiceProvider{ServiceProviderLogicalID: o.LogicalID, DisplayName: client.DisplayNames(o.DisplayName, o.Locale)}
		if o.Op == "provider.update" {
			if err := checkText("--display-name", o.DisplayName); err != nil {
				return err
			}
			return about(ctx, s, o, func(ctx context.Context, api *client.Client) (any, error) {
				return api.UpdateServiceProvider(ctx, o.ID, p)
			})
		}
		if err := checkText("--logical-id", o.LogicalID); err != nil {
			return err
		}
		if o.DisplayName != "" {
			if err := checkText("--display-name", o.DisplayName); err != nil {
				return err
			}
		}
		return call1(ctx, s, o, func(ctx context.Context, api *client.Client) (any, error) { return api.CreateServiceProvider(ctx, p) })
	case "provider.get":
		return about(ctx, s, o, func(ctx context.Context, api *client.Client) (any, error) { return api.GetServiceProvider(ctx, o.ID) })
	case "provider.delete":
		return about(ctx, s, o, func(ctx context.Context, api *client.Client) (any, error) {
			return nil, api.DeleteServiceProvider(ctx, o.ID)
		})
	case "network.create", "network.update":
		if err := checkSkill("--skill-id", o.SkillID); err != nil {
			return err
		}
		m := client.NetworkMapping{NetworkType: "SKILL", SkillConfiguration: client.SkillConfiguration{SkillID: o.SkillID}}
		write := (*client.Client).CreateNetworkMapping
		if o.Op == "network.update" {
			write = (*client.Client).UpdateNetworkMapping
		}
		return about(ctx, s, o, func(ctx context.Context, api *client.Client) (any, error) { return write(api, ctx, o.ID, m) })
	case "network.get":
		return about(ctx, s, o, func(ctx context.Context, api *client.Client) (any, error) { return api.GetNetworkMapping(ctx, o.ID) })
	case "network.delete":
		return about(ctx, s, o, func(ctx context.Context, api *client.Client) (any, error) {
			return nil, api.DeleteNetworkMapping(ctx, o.ID)
		})
	}
	return manageProducts(ctx, s, o)
}

// about checks the provider a call is about and makes it.
func about(ctx context.Context, s *Session, o ManageOptions, c call) error {
	if msg := csvmodel.CheckProvider(o.ID); msg != "" {
		return usage("PROVIDER_ID: %s", msg)
	}
	return call1(ctx, s, o, c)
}

// manageProducts is the in-skill product calls.
func manageProducts(ctx context.Context, s *Session, o ManageOptions) error {
	switch o.Op {
	case "products.list":
		return listProducts(ctx, s, o)
	case "products.create":
		if err := checkText("--vendor-id", o.VendorID); err != nil {
			return usage("--vendor-id is required: the vendor that owns the product (developer console: Settings, My IDs)")
		}
		def, err := manifest(ctx, s.store(), o.File, o.ReferenceName)
		if err != nil {
			return err
		}
		return call1(ctx, s, o, func(ctx context.Context, api *client.Client) (any, error) {
			return api.CreateProduct(ctx, o.VendorID, def)
		})
	}
	if msg := checkSMAPIID("PRODUCT_ID", o.ID, ProductPrefix); msg != "" {
		return usage("%s", msg)
	}
	const stale = "the product changed since its eTag was read: read it again (bulksync products get) and retry with the new --etag"
	switch o.Op {
	case "products.skills":
		return listAll(ctx, s, o, "associatedSkillIds", func(ctx context.Context, api *client.Client, token string) ([]string, string, error) {
			p, err := api.ListProductSkills(ctx, o.ID, o.Stage, token)
			if err != nil {
				return nil, "", err
			}
			return p.SkillIDs, p.Next, nil
		})
	case "products.delete":
		err := call1(ctx, s, o, func(ctx context.Context, api *client.Client) (any, error) {
			return nil, api.DeleteProduct(ctx, o.ID, o.ETag)
		})
		return explain(err, map[int]string{
			403: "the API deletes only development products that are not live and not associated with any skill: disassociate it first (bulksync products skills lists its skills)",
			412: stale})
	case "products.update":
		def, err := manifest(ctx, s.store(), o.File, o.ReferenceName)
		if err != nil {
			return err
		}
		err = call1(ctx, s, o, func(ctx context.Context, api *client.Client) (any, error) {
			return nil, api.UpdateProduct(ctx, o.ID, def, o.ETag)
		})
		return explain(err, map[int]string{403: "only the development stage of a product can be changed", 412: stale})
	}
	return call1(ctx, s, o, func(ctx context.Context, api *client.Client) (any, error) {
		get := api.GetProduct
		if o.Short {
			get = api.GetProductSummary
		}
		p, err := get(ctx, o.ID, o.Stage)
		if err != nil {
			return nil, err
		}
		var out map[string]any
		if err := json.Unmarshal(p.Answer, &out); err != nil {
			return nil, err
		}
		out["eTag"] = p.ETag
		return out, nil
	})
}

// listProducts prints a vendor's products, or a skill's, every page.
func listProducts(ctx context.Context, s *Session, o ManageOptions) error {
	switch {
	case (o.VendorID == "") == (o.SkillID == ""):
		return usage("give --vendor-id or --skill-id (one of them)")
	case o.SkillID != "":
		if msg := checkSMAPIID("--skill-id", o.SkillID, SkillPrefix); msg != "" {
			return usage("%s", msg)
		}
	}
	return listAll(ctx, s, o, "inSkillProducts", func(ctx context.Context, api *client.Client, token string) ([]client.ProductSummary, string, error) {
		var p *client.ProductPage
		var err error
		if o.SkillID != "" {
			stage := o.Stage
			if stage == "" {
				stage = client.StageDevelopment
			}
			p, err = api.ListSkillProducts(ctx, o.SkillID, stage, token)
		} else {
			p, err = api.ListVendorProducts(ctx, o.VendorID, client.VendorFilter{Stage: o.Stage, Type: o.Type}, token)
		}
		if err != nil {
			return nil, "", err
		}
		return p.Products, p.Next, nil
	})
}

// call1 makes one call through the Caller and prints its answer.
func call1(ctx context.Context, s *Session, o ManageOptions, c call) error {
	var answer any
	res, fatal := s.Caller.Do(ctx, o.Op, func(ctx context.Context) error {
		var err error
		answer, err = c(ctx, s.API)
		return err
	})
	switch {
	case fatal != nil:
		return fmt.Errorf("%s: %w", o.Op, fatal)
	case res.Err != nil:
		return fmt.Errorf("%s: %w", o.Op, res.Err)
	case res.Interrupted:
		return fmt.Errorf("%s: %w", o.Op, context.Cause(ctx))
	}
	o.IO.Log.Info().Str("op", o.Op).Int("attempts", res.Attempts).Int64("duration_ms", res.Duration.Milliseconds()).Msg("done")
	if answer == nil {
		return nil
	}
	return printJSON(o.IO.Stdout, answer)
}

// maxListPages bounds a list that a server keeps extending.
const maxListPages = 10000

// listAll reads a list to its last page, one call per page through the
// Caller, and prints {field: [every item]}, and only that.
func listAll[T any](ctx context.Context, s *Session, o ManageOptions, field string,
	page func(ctx context.Context, api *client.Client, token string) ([]T, string, error)) error {
	all, err := every(ctx, s, o.Op, o.IO, page)
	if err != nil {
		return err
	}
	return printJSON(o.IO.Stdout, map[string][]T{field: all})
}

// every reads a list to its last page, one call per page through the
// Caller, and returns every item.
func every[T any](ctx context.Context, s *Session, op string, o IO,
	page func(ctx context.Context, api *client.Client, token string) ([]T, string, error)) ([]T, error) {
	all := []T{}
	seen := map[string]bool{}
	token := ""
	for n := 1; ; n++ {
		if n > maxListPages {
			return nil, fmt.Errorf("%s: still more pages after %d", op, maxListPages)
		}
		var items []T
		var next string
		res, fatal := s.Caller.Do(ctx, "list", func(ctx context.Context) error {
			var err error
			items, next, err = page(ctx, s.API, token)
			return err
		})
		switch {
		case fatal != nil:
			return nil, fmt.Errorf("%s: %w", op, fatal)
		case res.Err != nil:
			return nil, fmt.Errorf("%s: %w", op, res.Err)
		case res.Interrupted:
			return nil, fmt.Errorf("%s: %w", op, context.Cause(ctx))
		}
		all = append(all, items...)
		if next == "" {
			o.Log.Info().Str("op", op).Int("pages", n).Int("items", len(all)).Msg("done")
			return all, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("%s: page %d: %w %q", op, n+1, reconcile.ErrRepeatedToken, next)
		}
		seen[next] = true
		token = next
	}
}

// printJSON writes v as indented JSON, the only thing a management command
// prints on stdout.
func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "Grand Hotel & Spa", not "\u0026"
	if err := enc.Encode(v); err != nil {
		return &OutputError{What: "answer", Path: "-", Err: err}
	}
	return nil
}

// manifest reads a product definition: the inSkillProductDefinition object,
// or an object holding it (a create request body), with referenceName
// replaced when one is given.
func manifest(ctx context.Context, store *storage.Store, path, referenceName string) (json.RawMessage, error) {
	b, err := readWhole(ctx, store, path)
	if err != nil {
		return nil, usage("--file: %v", err)
	}
	var def map[string]json.RawMessage
	if err := json.Unmarshal(b, &def); err != nil {
		return nil, usage("--file %s: not a JSON object: %v", path, err)
	}
	if inner, ok := def["inSkillProductDefinition"]; ok {
		def = nil
		if err := json.Unmarshal(inner, &def); err != nil || def == nil {
			return nil, usage("--file %s: inSkillProductDefinition is not a JSON object", path)
		}
	}
	if referenceName != "" {
		if err := checkText("--reference-name", referenceName); err != nil {
			return nil, err
		}
		def["referenceName"], _ = json.Marshal(referenceName)
	}
	if _, ok := def["referenceName"]; !ok {
		return nil, usage("--file %s: the definition has no referenceName (or give --reference-name)", path)
	}
	return json.Marshal(def)
}

// explain adds what to do about a refusal the API documents (Hint).
func explain(err error, why map[int]string) error {
	if w, ok := why[client.StatusOf(err)]; ok {
		return &advice{err, w}
	}
	return err
}

// checkText refuses a value that is not 1 to 255 characters.
func checkText(name, v string) error {
	if n := utf8.RuneCountInString(v); n < 1 || n > 255 {
		return usage("%s must be 1 to 255 characters, got %d", name, n)
	}
	return nil
}

// checkSkill refuses what is not a skill id.
func checkSkill(name, id string) error {
	if err := checkText(name, id); err != nil {
		return err
	}
	if !strings.HasPrefix(id, "amzn1.") {
		return usage("%s %q is not a skill id (amzn1.ask.skill.…)", name, id)
	}
	return nil
}
