package node

import "github.com/o2o-dispatch/dispatchd/dispatch/service"

// WebhookViewer is a region's replica as WithRegionWebhooks reads it (a *daemon.Daemon is one).
type WebhookViewer interface {
	WebhookView(id string) (*service.Webhook, bool)
}

// WithRegionWebhooks wraps the control region's service so that its webhooks' views list, for every region in
// regions, where that region's deliveries stand (service.Webhook.Regions): every region's owner delivers its own
// events to the control region's webhooks. local returns this node's replica of a region (nil while it opens, and
// the region is then left out); a replica that has not taken the webhook over yet is left out too.
func WithRegionWebhooks(s service.Service, regions []string, local func(region string) WebhookViewer) service.Service {
	return regionHooks{Service: s, regions: regions, local: local}
}

type regionHooks struct {
	service.Service
	regions []string
	local   func(string) WebhookViewer
}

func (r regionHooks) WebhookView(id string) (*service.Webhook, bool) {
	w, ok := r.Service.WebhookView(id)
	if ok {
		r.addRegions(w)
	}
	return w, ok
}

func (r regionHooks) WebhookViews() []*service.Webhook {
	out := r.Service.WebhookViews()
	for _, w := range out {
		r.addRegions(w)
	}
	return out
}

func (r regionHooks) addRegions(w *service.Webhook) {
	for _, region := range r.regions {
		rep := r.local(region)
		if rep == nil {
			continue
		}
		if v, ok := rep.WebhookView(w.ID); ok {
			w.Regions = append(w.Regions, service.WebhookRegion{Region: region, DeliveredThrough: v.DeliveredThrough, Backlog: v.Backlog})
		}
	}
}
