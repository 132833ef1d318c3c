package handlers

import (
	"fmt"
	"net"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// parseProxies reads TRUSTED_PROXIES entries: addresses or CIDR ranges.
func parseProxies(list []string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, p := range list {
		p = strings.TrimSpace(p)
		if !strings.Contains(p, "/") {
			if ip := net.ParseIP(p); ip != nil {
				bits := 32
				if ip.To4() == nil {
					bits = 128
				}
				p = fmt.Sprintf("%s/%d", ip, bits)
			}
		}
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_PROXIES: %q is not an address or a CIDR range", p)
		}
		out = append(out, n)
	}
	return out, nil
}

func (h *Handler) trustedProxy(ip net.IP) bool {
	for _, n := range h.proxies {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// clientIP is who is asking: the peer, or, when the peer is a trusted proxy,
// the right-most X-Forwarded-For address that is not one of ours. Entries
// left of it are the client's own words and are never believed.
func (h *Handler) clientIP(c *fiber.Ctx) string {
	peer := c.Context().RemoteIP()
	if len(h.proxies) == 0 || !h.trustedProxy(peer) {
		return peer.String()
	}
	hops := strings.Split(c.Get(fiber.HeaderXForwardedFor), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip := net.ParseIP(strings.TrimSpace(hops[i]))
		if ip == nil {
			break
		}
		if !h.trustedProxy(ip) {
			return ip.String()
		}
	}
	return peer.String()
}
