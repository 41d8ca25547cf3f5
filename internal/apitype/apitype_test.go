package apitype_test

import (
	"encoding/json"
	"testing"

	"github.com/permiso-auth/permiso/internal/apitype"
)

func TestClientFieldsEncodeOnlyWhatIsSet(t *testing.T) {
	name, life := "svc", 0
	for _, tc := range []struct {
		in   apitype.ClientFields
		want string
	}{
		{apitype.ClientFields{}, `{}`},
		{apitype.ClientFields{Name: &name, AccessTokenLifetime: &life}, `{"name":"svc","access_token_lifetime":0}`},
		{apitype.ClientFields{RefreshTokenLifetime: apitype.NullableInt{Set: true}}, `{"refresh_token_lifetime":null}`},
		{apitype.ClientFields{RefreshTokenLifetime: apitype.NullableInt{Set: true, Value: &life}}, `{"refresh_token_lifetime":0}`},
	} {
		b, err := json.Marshal(tc.in)
		if err != nil || string(b) != tc.want {
			t.Errorf("Marshal = %s, %v; want %s", b, err, tc.want)
		}
	}
}

func TestClientFieldsDecode(t *testing.T) {
	var f apitype.ClientFields
	if err := json.Unmarshal([]byte(`{"allowed_ips":"10.0.0.0/8, 192.0.2.1","refresh_token_lifetime":null}`), &f); err != nil {
		t.Fatal(err)
	}
	if f.AllowedIPs == nil || len(*f.AllowedIPs) != 2 || (*f.AllowedIPs)[1] != "192.0.2.1" {
		t.Errorf("allowed_ips from the original's string: %v", f.AllowedIPs)
	}
	if !f.RefreshTokenLifetime.Set || f.RefreshTokenLifetime.Value != nil {
		t.Errorf("explicit null: %+v", f.RefreshTokenLifetime)
	}
	var absent apitype.ClientFields
	if err := json.Unmarshal([]byte(`{"allowed_ips":["::1"]}`), &absent); err != nil || absent.RefreshTokenLifetime.Set || len(*absent.AllowedIPs) != 1 {
		t.Errorf("absent field / list form: %+v, %v", absent, err)
	}
}

func TestNewPaging(t *testing.T) {
	for _, tc := range []struct{ page, per, total, pages int }{
		{1, 20, 0, 1}, {1, 20, 20, 1}, {2, 20, 21, 2}, {1, 100, 1000, 10},
	} {
		if p := apitype.NewPaging(tc.page, tc.per, tc.total); p.Pages != tc.pages || p.Total != tc.total || p.Page != tc.page || p.PerPage != tc.per {
			t.Errorf("NewPaging(%d, %d, %d) = %+v, want %d pages", tc.page, tc.per, tc.total, p, tc.pages)
		}
	}
}
