package client

import (
	"context"
	"net/http"
)

// DisplayName is a service provider's name in one locale.
type DisplayName struct {
	Locale string `json:"locale"`
	Value  string `json:"value"`
}

// DisplayNames is name in one locale; none when name is empty.
func DisplayNames(name, locale string) []DisplayName {
	if name == "" {
		return nil
	}
	return []DisplayName{{Locale: locale, Value: name}}
}

// ServiceProvider is a communication service provider; ServiceProviderID is
// assigned by the API on create.
type ServiceProvider struct {
	ServiceProviderID        string        `json:"serviceProviderId,omitempty"`
	ServiceProviderLogicalID string        `json:"serviceProviderLogicalId,omitempty"`
	DisplayName              []DisplayName `json:"displayName,omitempty"`
}

const providersPath = "/v1/communications/serviceProviders"

// CreateServiceProvider onboards a provider (201); 409 when the logical id exists.
func (c *Client) CreateServiceProvider(ctx context.Context, p ServiceProvider) (*ServiceProvider, error) {
	var out ServiceProvider
	if err := c.do(ctx, http.MethodPost, providersPath, http.StatusCreated, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetServiceProvider reads one provider.
func (c *Client) GetServiceProvider(ctx context.Context, providerID string) (*ServiceProvider, error) {
	var out ServiceProvider
	if err := c.do(ctx, http.MethodGet, providersPath+"/"+pathEscape(providerID), http.StatusOK, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateServiceProvider changes a provider's display name; the logical id can't change.
func (c *Client) UpdateServiceProvider(ctx context.Context, providerID string, p ServiceProvider) (*ServiceProvider, error) {
	var out ServiceProvider
	if err := c.do(ctx, http.MethodPut, providersPath+"/"+pathEscape(providerID), http.StatusOK, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteServiceProvider removes a provider (200).
func (c *Client) DeleteServiceProvider(ctx context.Context, providerID string) error {
	return c.do(ctx, http.MethodDelete, providersPath+"/"+pathEscape(providerID), http.StatusOK, nil, nil)
}
