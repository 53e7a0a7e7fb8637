package client

import (
	"context"
	"net/http"
)

// NetworkMapping maps a service provider to the skill that places its calls.
type NetworkMapping struct {
	NetworkType        string             `json:"networkType"`
	SkillConfiguration SkillConfiguration `json:"skillConfiguration"`
}

// SkillConfiguration names the skill of a SKILL network.
type SkillConfiguration struct {
	SkillID string `json:"skillId"`
}

// NetworkStatus is the answer to a create or update of a mapping.
type NetworkStatus struct {
	ServiceProviderID string `json:"serviceProviderId"`
	Status            string `json:"status"`
}

func networkPath(providerID string) string {
	return providersPath + "/" + pathEscape(providerID) + "/network"
}

// CreateNetworkMapping maps the provider to a skill (201).
func (c *Client) CreateNetworkMapping(ctx context.Context, providerID string, m NetworkMapping) (*NetworkStatus, error) {
	return c.writeNetwork(ctx, http.MethodPost, http.StatusCreated, providerID, m)
}

// UpdateNetworkMapping maps the provider to another skill (200).
func (c *Client) UpdateNetworkMapping(ctx context.Context, providerID string, m NetworkMapping) (*NetworkStatus, error) {
	return c.writeNetwork(ctx, http.MethodPut, http.StatusOK, providerID, m)
}

func (c *Client) writeNetwork(ctx context.Context, method string, want int, providerID string, m NetworkMapping) (*NetworkStatus, error) {
	var out NetworkStatus
	if err := c.do(ctx, method, networkPath(providerID), want, m, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetNetworkMapping reads the provider's mapping.
func (c *Client) GetNetworkMapping(ctx context.Context, providerID string) (*NetworkMapping, error) {
	var out NetworkMapping
	if err := c.do(ctx, http.MethodGet, networkPath(providerID), http.StatusOK, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteNetworkMapping removes the provider's mapping (200).
func (c *Client) DeleteNetworkMapping(ctx context.Context, providerID string) error {
	return c.do(ctx, http.MethodDelete, networkPath(providerID), http.StatusOK, nil, nil)
}
