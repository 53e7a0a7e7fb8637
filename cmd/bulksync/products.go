package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/alecthomas/kong"
	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/job"
)

type productsCmd struct {
	Sync   productsSyncCmd   `cmd:"" help:"Make the skill ↔ in-skill product associations match the files."`
	Plan   productsPlanCmd   `cmd:"" help:"Read and diff like products sync, but write nothing: show what it would do."`
	List   productsListCmd   `cmd:"" help:"List a vendor's (--vendor-id) or a skill's (--skill-id) products, every page, as JSON."`
	Get    productCmd        `cmd:"" help:"Print a product's definition (or --short: its summary) with its eTag."`
	Create productsCreateCmd `cmd:"" help:"Create a product from a manifest file; prints its new productId."`
	Update productWriteCmd   `cmd:"" help:"Replace a product's development definition from a manifest file (--etag: only if unchanged)."`
	Delete productCmd        `cmd:"" help:"Delete a product (development stage only; not live or associated products)."`
	Skills productCmd        `cmd:"" help:"List the skills a product is associated with, every page, as JSON."`
}

// productFiles are the input of products sync and plan.
type productFiles struct {
	Stage     string             `enum:"development,live" default:"development" help:"Stage whose associations are read (and with --prune pruned); sync writes development only."`
	Delimiter csvmodel.Delimiter `default:"auto" placeholder:"C" help:"Field delimiter: , ; or tab; sniffed from the header line when auto (the default)."`
	Files     []string           `arg:"" optional:"" name:"FILE" help:"CSV files of skillId, productId and an optional action (associate, disassociate)."`
}

type productsSyncCmd struct {
	runFlags     `embed:""`
	productFiles `embed:""`
	Plan         string `placeholder:"FILE" help:"Apply exactly this saved plan (from products plan --out), refusing (exit 3) if any association it touches changed since."`
}

type productsPlanCmd struct {
	runFlags         `embed:""`
	productFiles     `embed:""`
	Out              string `placeholder:"FILE" help:"Save the plan for products sync --plan."`
	DetailedExitcode bool   `name:"detailed-exitcode" help:"Exit 5 when there are changes to make."`
}

// productCmd is a command about one product: get, delete, skills.
type productCmd struct {
	onboardFlags `embed:""`
	ID           string `arg:"" name:"PRODUCT_ID" help:"productId (amzn1.adg.product.…)."`
	Stage        string `enum:"development,live" default:"development" help:"Stage (get, skills)."`
	Short        bool   `help:"get: the product's summary instead of its definition."`
	ETag         string `name:"etag" placeholder:"ETAG" help:"delete: only if the product is still this version (from products get)."`
}

type productWriteCmd struct {
	productCmd    `embed:""`
	File          string `required:"" type:"existingfile" placeholder:"FILE" help:"Manifest: the inSkillProductDefinition object, or an object holding it."`
	ReferenceName string `placeholder:"NAME" help:"Use this referenceName instead of the manifest's (one manifest, several products)."`
}

type productsCreateCmd struct {
	onboardFlags  `embed:""`
	VendorID      string `placeholder:"ID" help:"Vendor that owns the product (with --emulate: the emulator's demo vendor)."`
	File          string `required:"" type:"existingfile" placeholder:"FILE" help:"Manifest: the inSkillProductDefinition object, or an object holding it."`
	ReferenceName string `placeholder:"NAME" help:"Use this referenceName instead of the manifest's (one manifest, several products)."`
}

type productsListCmd struct {
	onboardFlags `embed:""`
	VendorID     string `placeholder:"ID" help:"List the vendor's products (with --emulate: the emulator's demo vendor)."`
	SkillID      string `placeholder:"ID" help:"List the products associated with this skill instead."`
	Stage        string `enum:",development,live" default:"" help:"Stage: a filter for a vendor's list; for a skill's, development unless given."`
	Type         string `enum:",SUBSCRIPTION,ENTITLEMENT,CONSUMABLE" default:"" help:"Vendor list filter: product type."`
}

func (c *productsCmd) Help() string {
	return `A skill per property sells the same in-skill products in each: products sync attaches
them from a CSV (skillId,productId[,action]) the way sync attaches rooms, with the same flags,
report, plans and exit codes. The other commands print the API's answer as JSON on stdout.

Example (on the emulator):
  bulksync products create --emulate --file samples/product-manifest.json --reference-name late-checkout
  bulksync products sync --emulate samples/products.csv
  bulksync products list --emulate --skill-id amzn1.ask.skill.aaaa0001-0000-4000-8000-000000000001`
}

func (c *productsSyncCmd) Run(ctx context.Context, g *globals) error {
	cfg, err := c.config("products sync", g, job.Input{Files: c.Files, Delimiter: c.Delimiter})
	if err != nil {
		return err
	}
	cfg.PlanIn = c.Plan
	return runJob(ctx, g, c.smapi(g), cfg, runProducts(c.Stage))
}

func (c *productsPlanCmd) Run(ctx context.Context, g *globals) error {
	cfg, err := c.config("products plan", g, job.Input{Files: c.Files, Delimiter: c.Delimiter})
	if err != nil {
		return err
	}
	cfg.DryRun, cfg.PlanOut, cfg.DetailedChanges = true, c.Out, c.DetailedExitcode
	return runJob(ctx, g, c.smapi(g), cfg, runProducts(c.Stage))
}

func runProducts(stage string) jobRun {
	return func(ctx context.Context, cfg job.Config, s *job.Session, d job.Deps) (job.Result, error) {
		return job.RunProducts(ctx, cfg, s.API, stage, d)
	}
}

// smapi points the flags at the Skill Management API, which has one host
// whatever --region says.
func (f *runFlags) smapi(g *globals) *runFlags {
	if f.Region != "NA" && f.Endpoint == "" {
		fmt.Fprintf(g.stderr, "bulksync: --region %s ignored: the Skill Management API has one host, api.amazonalexa.com\n", f.Region)
	}
	f.Region = "NA"
	return f
}

func (c *productCmd) Run(ctx context.Context, g *globals, k *kong.Context) error {
	if err := job.CheckSMAPIID("PRODUCT_ID", c.ID, job.ProductPrefix); err != nil {
		return err
	}
	op := opOf(k)
	switch op {
	case "products.skills":
		return listAll(ctx, g, &c.onboardFlags, op, "associatedSkillIds", func(ctx context.Context, api *client.Client, token string) ([]string, string, error) {
			p, err := api.ListProductSkills(ctx, c.ID, c.Stage, token)
			if err != nil {
				return nil, "", err
			}
			return p.SkillIDs, p.Next, nil
		})
	case "products.delete":
		err := onboard(ctx, g, &c.onboardFlags, op, func(ctx context.Context, api *client.Client) (any, error) {
			return nil, api.DeleteProduct(ctx, c.ID, c.ETag)
		})
		return explain(err, map[int]string{
			403: "the API deletes only development products that are not live and not associated with any skill: disassociate it first (bulksync products skills lists its skills)",
			412: "the product changed since its eTag was read: read it again (bulksync products get) and retry with the new --etag"})
	}
	return onboard(ctx, g, &c.onboardFlags, op, func(ctx context.Context, api *client.Client) (any, error) {
		get := api.GetProduct
		if c.Short {
			get = api.GetProductSummary
		}
		p, err := get(ctx, c.ID, c.Stage)
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

// listAll connects and prints every page of a list as {field: [items]}.
func listAll[T any](ctx context.Context, g *globals, f *onboardFlags, op, field string, page func(context.Context, *client.Client, string) ([]T, string, error)) error {
	log := newLogger(g, f.logFlags, newRunID())
	sess, err := connect(g, &f.apiFlags, log)
	if err != nil {
		return err
	}
	defer sess.Close()
	return job.ListAll(ctx, sess, log, g.stdout, op, field, page)
}

func (c *productWriteCmd) Run(ctx context.Context, g *globals) error {
	if err := job.CheckSMAPIID("PRODUCT_ID", c.ID, job.ProductPrefix); err != nil {
		return err
	}
	def, err := manifest(c.File, c.ReferenceName)
	if err != nil {
		return err
	}
	err = onboard(ctx, g, &c.onboardFlags, "products.update", func(ctx context.Context, api *client.Client) (any, error) {
		return nil, api.UpdateProduct(ctx, c.ID, def, c.ETag)
	})
	return explain(err, map[int]string{
		403: "only the development stage of a product can be changed",
		412: "the product changed since its eTag was read: read it again (bulksync products get) and retry with the new --etag"})
}

func (c *productsCreateCmd) Run(ctx context.Context, g *globals) error {
	vendor := c.VendorID
	if vendor == "" && c.Emulate {
		vendor = emulator.DefaultVendor
	}
	if err := job.CheckText("--vendor-id", vendor); err != nil {
		return usageErr("--vendor-id is required: the vendor that owns the product (developer console: Settings, My IDs)")
	}
	def, err := manifest(c.File, c.ReferenceName)
	if err != nil {
		return err
	}
	return onboard(ctx, g, &c.onboardFlags, "products.create", func(ctx context.Context, api *client.Client) (any, error) {
		return api.CreateProduct(ctx, vendor, def)
	})
}

func (c *productsListCmd) Run(ctx context.Context, g *globals) error {
	vendor := c.VendorID
	if vendor == "" && c.SkillID == "" && c.Emulate {
		vendor = emulator.DefaultVendor
	}
	switch {
	case (vendor == "") == (c.SkillID == ""):
		return usageErr("give --vendor-id or --skill-id (one of them)")
	case c.SkillID != "":
		if err := job.CheckSMAPIID("--skill-id", c.SkillID, job.SkillPrefix); err != nil {
			return err
		}
	}
	return listAll(ctx, g, &c.onboardFlags, "products.list", "inSkillProducts", func(ctx context.Context, api *client.Client, token string) ([]client.ProductSummary, string, error) {
		var p *client.ProductPage
		var err error
		if c.SkillID != "" {
			p, err = api.ListSkillProducts(ctx, c.SkillID, cmpOr(c.Stage, client.StageDevelopment), token)
		} else {
			p, err = api.ListVendorProducts(ctx, vendor, client.VendorFilter{Stage: c.Stage, Type: c.Type}, token)
		}
		if err != nil {
			return nil, "", err
		}
		return p.Products, p.Next, nil
	})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// manifest reads a product definition: the inSkillProductDefinition object,
// or an object holding it (a create request body), with referenceName
// replaced when one is given.
func manifest(path, referenceName string) (json.RawMessage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErr("--file: %v", err)
	}
	var def map[string]json.RawMessage
	if err := json.Unmarshal(b, &def); err != nil {
		return nil, usageErr("--file %s: not a JSON object: %v", path, err)
	}
	if inner, ok := def["inSkillProductDefinition"]; ok {
		def = nil
		if err := json.Unmarshal(inner, &def); err != nil || def == nil {
			return nil, usageErr("--file %s: inSkillProductDefinition is not a JSON object", path)
		}
	}
	if referenceName != "" {
		if err := job.CheckText("--reference-name", referenceName); err != nil {
			return nil, err
		}
		def["referenceName"], _ = json.Marshal(referenceName)
	}
	if _, ok := def["referenceName"]; !ok {
		return nil, usageErr("--file %s: the definition has no referenceName (or give --reference-name)", path)
	}
	return json.Marshal(def)
}

// explain adds what to do about a refusal the API documents.
func explain(err error, why map[int]string) error {
	if w, ok := why[client.StatusOf(err)]; ok {
		return fmt.Errorf("%w\n%s", err, w)
	}
	return err
}
