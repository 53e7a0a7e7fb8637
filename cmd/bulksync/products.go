package main

import (
	"context"

	"github.com/alecthomas/kong"
	"github.com/bulksync/bulksync/internal/csvmodel"
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
	Export productsExportCmd `cmd:"" help:"Write a vendor's or some skills' product associations as an input file that products sync reads back with no write."`
}

// productFiles are the input of products sync and plan.
type productFiles struct {
	Stage     string             `enum:"development,live" default:"development" help:"Stage whose associations are read (and with --prune pruned); sync writes development only."`
	Delimiter csvmodel.Delimiter `default:"auto" placeholder:"C" help:"Field delimiter: , ; or tab; sniffed from the header line when auto (the default)."`
	fileFlags `embed:""`
}

func (f *productFiles) options(command string) job.Options {
	return job.Options{Command: command, Products: true, Stage: f.Stage,
		Input: job.Input{Files: f.Files, Delimiter: f.Delimiter, MaxAge: f.MaxAge, Newest: f.Newest}}
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

type productsExportCmd struct {
	onboardFlags `embed:""`
	VendorID     string   `placeholder:"ID" help:"Export the associations of every product of this vendor (with --emulate, the demo vendor by default)."`
	SkillID      []string `placeholder:"ID" help:"Export the associations of this skill instead (repeatable)."`
	Stage        string   `enum:"development,live" default:"development" help:"Stage whose associations are read."`
	Out          string   `default:"-" placeholder:"FILE" help:"Write the file here, whole or not at all ({run_id} and {time} filled); - (the default) for stdout."`
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

func (c *productsCmd) Help() string       { return help("products") }
func (c *productsExportCmd) Help() string { return help("products export") }

func (c *productsSyncCmd) Run(ctx context.Context, g *globals) error {
	o := c.options("products sync")
	o.PlanIn = c.Plan
	return c.run(ctx, g, o)
}

func (c *productsPlanCmd) Run(ctx context.Context, g *globals) error {
	o := c.options("products plan")
	o.DryRun, o.PlanOut, o.DetailedChanges = true, c.Out, c.DetailedExitcode
	return c.run(ctx, g, o)
}

func (c *productCmd) Run(ctx context.Context, g *globals, k *kong.Context) error {
	return c.manage(ctx, g, job.ManageOptions{Op: opOf(k), ID: c.ID, Stage: c.Stage, Short: c.Short, ETag: c.ETag}, true)
}

func (c *productWriteCmd) Run(ctx context.Context, g *globals) error {
	return c.manage(ctx, g, job.ManageOptions{Op: "products.update", ID: c.ID, File: c.File, ReferenceName: c.ReferenceName, ETag: c.ETag}, true)
}

func (c *productsCreateCmd) Run(ctx context.Context, g *globals) error {
	return c.manage(ctx, g, job.ManageOptions{Op: "products.create", VendorID: c.VendorID, File: c.File, ReferenceName: c.ReferenceName}, true)
}

func (c *productsListCmd) Run(ctx context.Context, g *globals) error {
	return c.manage(ctx, g, job.ManageOptions{Op: "products.list", VendorID: c.VendorID, SkillID: c.SkillID, Stage: c.Stage, Type: c.Type}, true)
}

func (c *productsExportCmd) Run(ctx context.Context, g *globals) error {
	return c.manage(ctx, g, job.ManageOptions{Op: "products.export", VendorID: c.VendorID, Skills: c.SkillID, Stage: c.Stage, Out: c.Out}, true)
}
